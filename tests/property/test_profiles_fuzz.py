"""No profile crashes, whatever it is given: arbitrary JSON, arbitrary or CEF-like text, and
arbitrary profile files. map() returns a signal or a Skip, or raises RecordRejected for a
broken line; load/parse of a profile returns one or raises ProfileError. Nothing else."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake import records as records_module
from okta_risk_output.intake.profiles import (
    BUILTIN_PROFILES,
    MESSAGE_MAX_LENGTH,
    Profile,
    ProfileError,
    Skip,
    load_profile,
    parse_profile,
)
from okta_risk_output.intake.profiles.paths import _Finder, _Missing, parse_path
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.records import RecordMapper

NOW = 1_800_000_000.0
SIGNAL_KEYS = {"ip", "riskLevel", "message", "timestamp", "expiresAt"}
ALPHABET = re.compile(r"[A-Za-z0-9 ._-]*")

PROFILES: list[Profile] = [
    load_profile(name, **options)
    for name in BUILTIN_PROFILES
    for options in (
        {},
        {"direction": "destination", "allow_non_global_ips": True},
        {"strict": True},
    )
]

# Field names the built-in profiles read, flat and dotted, so that records reach deep into
# the mapping rather than stopping at the first missing field.
FIELD_NAMES = [
    "event_type", "src_ip", "dest_ip", "alert", "severity", "signature", "timestamp",
    "note", "msg", "src", "dst", "ts", "id.orig_h", "id", "orig_h",
    "event", "kind", "source", "ip", "kibana", "kibana.alert.risk_score", "rule", "name",
    "kibana.alert.rule.name", "@timestamp", "event.kind", "signal", "risk_score",
    "urgency", "src_ip", "rule_name", "_time", "security_domain", "subjects", "riskLevel",
    "message", "expiresAt", "extension", "rt",
]  # fmt: skip
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
keys = st.one_of(st.sampled_from(FIELD_NAMES), text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    st.sampled_from(
        ["alert", "signal", "high", "Very-High", "1", "7", "73", "192.0.2.1", "10.0.0.1",
         "2001:0db8:0000:0000:0000:0000:0000:0001", "fe80::1%eth0", "Scan::Port_Scan",
         "2026-11-27T10:15:30.123+0100", "1795774530.5", "informational"]
    ),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=20,
)
addresses = st.one_of(
    st.sampled_from(["192.0.2.1", "10.0.0.1", "2001:db8::1", "::ffff:192.0.2.1", "host-1"]),
    scalars,
)
# Records shaped like each format, with arbitrary values where it matters, so that mapping
# goes past the first filters.
shaped = st.one_of(
    st.fixed_dictionaries(
        {"event_type": st.just("alert"), "src_ip": addresses, "timestamp": scalars,
         "alert": st.fixed_dictionaries({"severity": scalars, "signature": json_values})}
    ),
    st.fixed_dictionaries(
        {"note": scalars, "msg": json_values, "src": addresses, "ts": scalars}
    ),
    st.fixed_dictionaries(
        {"event.kind": st.just("signal"), "source": st.fixed_dictionaries({"ip": addresses}),
         "kibana.alert.risk_score": scalars, "@timestamp": scalars,
         "kibana.alert.rule.name": json_values}
    ),
    st.fixed_dictionaries(
        {"urgency": scalars, "src": st.one_of(addresses, st.lists(addresses)),
         "rule_name": json_values, "_time": scalars}
    ),
    st.fixed_dictionaries(
        {"ip": addresses, "riskLevel": scalars},
        optional={"message": json_values, "timestamp": scalars, "expiresAt": scalars},
    ),
    st.fixed_dictionaries({"subjects": json_values}, optional={"timestamp": scalars}),
)  # fmt: skip
records = st.one_of(st.dictionaries(keys, json_values, max_size=8), shaped)

cef_text = st.text(st.sampled_from("abc =|\\nr.:01-7 \t"), max_size=40)
cef_like = st.builds(
    lambda prefix, header, ext: f"{prefix}CEF:{header}{ext}",
    st.sampled_from(["", "<134>", "<134>Nov 27 10:15:30 fw ", "<1>1 - - - - - ", "junk "]),
    st.lists(cef_text, max_size=9).map("|".join),
    st.lists(
        st.builds(
            lambda k, v: f" {k}={v}", st.sampled_from(["src", "dst", "rt", "c6a2"]), cef_text
        ),
        max_size=5,
    ).map("".join),
)
lines = st.one_of(text, cef_like, records.map(json.dumps), st.text(max_size=200))


def check(mapped: Any, profile: Profile) -> None:
    if isinstance(mapped, Skip):
        assert isinstance(mapped.reason, str) and mapped.reason
        return
    assert isinstance(mapped, dict)
    if "subjects" in mapped:  # a RiskEvent that auto passes through
        return
    assert "ip" in mapped and "riskLevel" in mapped
    if profile.name != "auto":
        assert set(mapped) <= SIGNAL_KEYS
        assert mapped["riskLevel"] in ("HIGH", "MEDIUM", "LOW")
    message = mapped.get("message")
    if isinstance(message, str) and not profile.settings.strict:
        assert ALPHABET.fullmatch(message) and 0 < len(message) <= MESSAGE_MAX_LENGTH


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records)
def test_no_profile_crashes_on_arbitrary_json(record: dict[str, Any]) -> None:
    for profile in PROFILES:
        check(profile.map(record, now=NOW), profile)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=lines)
def test_no_profile_crashes_on_arbitrary_or_cef_like_text(line: str) -> None:
    for profile in PROFILES:
        try:
            mapped = profile.map(line, now=NOW)
        except RecordRejected as rejected:
            assert rejected.kind in ("bad_cef", "not_json", "not_object", "too_deep")
            assert rejected.errors
            continue
        check(mapped, profile)


# -- arbitrary profile files --------------------------------------------------------------------


def toml(value: Any) -> str:
    """A TOML literal for a JSON-like value (None has none: dropped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value if v is not None) + "]"
    pairs = [f"{json.dumps(k, ensure_ascii=False)} = {toml(v)}" for k, v in value.items()
             if v is not None]  # fmt: skip
    return "{" + ", ".join(pairs) + "}"


# Profiles that are valid, so that mapping under arbitrary configurations gets exercised...
good_paths = st.sampled_from([*FIELD_NAMES, "a.b[0]", "x[-1].y", "alert.severity", "id.orig_h"])
good_levels = st.sampled_from(["HIGH", "medium", "Low"])
good_condition = st.builds(
    lambda field, test, reason: {"field": field, **test, "skip_reason": reason},
    good_paths,
    st.one_of(
        st.builds(lambda v: {"equals": v}, st.sampled_from(["alert", "1", 7, True])),
        st.builds(lambda v: {"in": v}, st.lists(st.sampled_from(["a", "signal", "2"]), min_size=1)),
        st.builds(lambda v: {"not_in": v}, st.lists(text, min_size=1, max_size=3)),
        st.builds(lambda v: {"matches": v}, st.sampled_from(["^a", "(?i)alert", ".*", "x|y"])),
        st.builds(lambda v: {"not_matches": v}, st.sampled_from(["^a", "\\d+"])),
        st.builds(lambda v: {"exists": v}, st.booleans()),
    ),
    st.sampled_from(["not_alert", "filtered_out", "x.y-z"]),
)
good_rule = st.one_of(
    st.builds(lambda level: {"level": level}, good_levels),
    st.builds(
        lambda field, table: {"field": field, "map": table},
        good_paths,
        st.dictionaries(st.sampled_from(["1", "high", "alert", "7"]), good_levels, min_size=1),
    ),
    st.builds(
        lambda field, low: {
            "field": field,
            "thresholds": {"HIGH": low + 20, "MEDIUM": low + 10, "LOW": low},
        },
        good_paths,
        st.integers(-100, 100),
    ),
)
good_profiles = st.fixed_dictionaries(
    {
        "ip": st.fixed_dictionaries(
            {"source": st.one_of(good_paths, st.lists(good_paths, min_size=1, max_size=3))},
            optional={"not_an_address": st.sampled_from(["skip", "reject"])},
        ),
        "risk_level": st.lists(good_rule, min_size=1, max_size=3),
    },
    optional={
        "profile": st.fixed_dictionaries(
            {}, optional={"input": st.sampled_from(["json", "cef"]), "name": text}
        ),
        "filter": st.lists(good_condition, max_size=3),
        "message": st.sampled_from(["{a}", "{alert.signature|msg} x", "{{x}} {note}", "-"]),
        "timestamp": st.fixed_dictionaries(
            {"field": st.one_of(good_paths, st.lists(good_paths, min_size=1, max_size=2))},
            optional={
                "format": st.lists(
                    st.sampled_from(["auto", "epoch", "epoch_ms", "%Y", "%d/%m/%Y %H:%M:%S"]),
                    min_size=1,
                )
            },
        ),
        "expires": st.one_of(
            st.fixed_dictionaries(
                {"after": st.sampled_from(["1h", "30m", "0.5"])},
                optional={"from": st.sampled_from(["now", "timestamp"])},
            ),
            st.fixed_dictionaries({"field": good_paths}),
        ),
    },
)

# ... and anything at all, so that every problem path gets exercised.
paths = st.one_of(good_paths, st.sampled_from(["a..b", "", "a[x]"]), text)
levels = st.sampled_from(["HIGH", "medium", "Low", "SEVERE", 3])
condition = st.fixed_dictionaries(
    {"field": paths},
    optional={
        "equals": scalars.filter(lambda v: v is not None),
        "in": st.lists(st.one_of(text, st.integers()), max_size=3),
        "not_in": st.lists(text, max_size=3),
        "matches": st.sampled_from(["^a", "(", "[a-", "(?i)alert", ".*"]),
        "not_matches": text,
        "exists": st.booleans(),
        "skip_reason": st.sampled_from(["not_alert", "two words", "", "x.y-z"]),
    },
)
rule = st.one_of(
    st.fixed_dictionaries({"level": levels}),
    st.fixed_dictionaries(
        {"field": paths},
        optional={
            "map": st.dictionaries(text, levels, max_size=3),
            "thresholds": st.dictionaries(levels, st.one_of(st.integers(), st.floats(-1e9, 1e9))),
        },
    ),
    json_values,
)
wild_profiles = st.fixed_dictionaries(
    {},
    optional={
        "ip": st.one_of(
            st.fixed_dictionaries(
                {"source": paths},
                optional={"destination": paths, "not_an_address": st.sampled_from(["skip", 1])},
            ),
            json_values,
        ),
        "profile": st.fixed_dictionaries(
            {},
            optional={
                "name": text,
                "input": st.sampled_from(["json", "cef", "xml"]),
                "extends": st.sampled_from([*BUILTIN_PROFILES, "nope"]),
                "recognise": st.lists(condition, max_size=2),
            },
        ),
        "filter": st.one_of(st.lists(condition, max_size=3), json_values),
        "risk_level": st.one_of(st.lists(rule, max_size=3), json_values),
        "message": st.one_of(
            st.sampled_from(["{a}", "{a|b} x", "{", "}}", "{{x}}", "{a..b}"]).map(
                lambda t: {"template": t}
            ),
            json_values,
        ),
        "timestamp": st.one_of(
            st.fixed_dictionaries(
                {"field": st.one_of(paths, st.lists(paths, max_size=2))},
                optional={"format": st.sampled_from(["auto", "epoch", "%Y", "%", "x", 1])},
            ),
            json_values,
        ),
        "expires": st.one_of(
            st.fixed_dictionaries(
                {"after": st.sampled_from(["1h", "0", "soon", 5])},
                optional={"from": st.sampled_from(["now", "timestamp", "then"])},
            ),
            st.fixed_dictionaries({"field": paths}),
            json_values,
        ),
        "extra": json_values,
    },
)
profile_files = st.one_of(good_profiles, wild_profiles)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=profile_files, record=records, line=lines)
def test_arbitrary_profile_files_load_or_list_problems_and_then_map_safely(
    document: dict[str, Any], record: dict[str, Any], line: str
) -> None:
    text = "\n".join(f"{json.dumps(k)} = {toml(v)}" for k, v in document.items() if v is not None)
    try:
        profile = parse_profile(text, "fuzz.toml")
    except ProfileError as error:
        assert error.problems and all(p.startswith("fuzz.toml: ") for p in error.problems)
        return
    check(profile.map(record, now=NOW), profile)
    with contextlib.suppress(RecordRejected):
        check(profile.map(line, now=NOW), profile)


# -- the skip path (issue 13): cheap, and never a different verdict -----------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records, name=st.one_of(st.sampled_from(FIELD_NAMES), text))
def test_a_one_name_path_finds_what_the_full_search_finds(
    record: dict[str, Any], name: str
) -> None:
    with contextlib.suppress(ValueError):
        path = parse_path(name)
        if len(path.steps) == 1 and not path.steps[0].indexes:
            found = _Finder(path.steps).find(record, 0)
            assert path.find(record) == (None if isinstance(found, _Missing) else found)


MAPPERS = [RecordMapper(profile=profile) for profile in PROFILES]


def _outcome(mapper: RecordMapper, data: bytes) -> Any:
    try:
        return ("event", json.dumps(mapper.to_event(Line("fuzz", 1, data, len(data)), NOW)))
    except RecordSkipped as skip:
        return ("skipped", skip.reason)
    except RecordRejected as rejected:
        return ("rejected", rejected.kind, rejected.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.one_of(lines, records.map(json.dumps)).map(lambda t: t.encode("utf-8", "replace")))
def test_each_line_is_skipped_mapped_or_rejected_alike_by_either_json_reader(line: bytes) -> None:
    """The skip is decided on the record msgspec read, as on the one json.loads read: the same
    reason, and never a skip where the json module's reading maps the record."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records_module, "EAGER_LINES", -1)
        fast = [_outcome(mapper, line) for mapper in MAPPERS]
        patch.setattr(records_module, "_decode", None)
        patch.setattr(records_module, "EAGER_LINES", 1 << 62)
        plain = [_outcome(mapper, line) for mapper in MAPPERS]
    assert fast == plain
