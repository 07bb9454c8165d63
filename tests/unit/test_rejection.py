"""What an Okta 400 condemns: the subjects its causes name, and the whole-failure guess."""

from __future__ import annotations

from okta_risk_output.delivery.packing import PackLimits
from okta_risk_output.delivery.rejection import Search
from okta_risk_output.delivery.risk_events import named_in_causes
from okta_risk_output.spool.signals import Signal


def signals(*ips: str) -> list[Signal]:
    return [
        Signal(id=n, ip=ip, level="LOW", message=None, timestamp=None, expires_at=None,
               source="t", line=n)
        for n, ip in enumerate(ips, start=1)
    ]  # fmt: skip


def test_causes_name_subjects_by_address_or_by_their_place_in_the_body() -> None:
    part = signals("198.51.100.1", "198.51.100.12", "2001:db8::1", "203.0.113.5")
    causes = [
        "$[0].subjects[3].ip: not accepted by this org",
        "198.51.100.12 is on a deny list.",
        "the address 2001:db8::1: rejected",
    ]
    named = named_in_causes(part, PackLimits(), causes)
    assert sorted(named) == [2, 3, 4]  # never 198.51.100.1, a prefix of another address
    assert named[4] == [causes[0]]


def test_causes_naming_nothing_condemn_nothing() -> None:
    part = signals("198.51.100.1", "198.51.100.2")
    assert named_in_causes(part, PackLimits(), ["Api validation failed: riskEvents"]) == {}
    assert named_in_causes(part, PackLimits(), []) == {}


def test_a_whole_failure_is_judged_only_after_two_more_singles_fail_the_same_way() -> None:
    whole = signals(*(f"198.51.100.{n}" for n in range(1, 9)))
    search = Search(whole, "400 generic")
    pending = [whole[4:], whole[2:4], whole[1:2]]  # what the descent left untested
    assert not search.single_rejected(whole[0], "400 generic", pending)
    assert pending[-2:] == [[whole[7]], [whole[4]]]  # the last and the middle go next
    assert not search.single_rejected(whole[4], "400 generic", pending)
    assert search.single_rejected(whole[7], "400 generic", pending)


def test_any_accepted_part_or_other_answer_ends_the_whole_failure_guess() -> None:
    whole = signals(*(f"198.51.100.{n}" for n in range(1, 9)))
    accepted = Search(whole, "400 generic")
    accepted.ruled_out()
    assert not accepted.single_rejected(whole[0], "400 generic", [whole[1:]])
    other = Search(whole, "400 generic")
    pending = [whole[1:]]
    assert not other.single_rejected(whole[0], "400 names 198.51.100.1", pending)
    assert pending == [whole[1:]]  # no probes taken out
