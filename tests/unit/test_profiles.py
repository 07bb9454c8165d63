"""Mapping profiles: each built-in on its sample file, the declarative format, the map command."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from okta_risk_output.cli.map import map_command
from okta_risk_output.errors import ConfigError, RecordRejected
from okta_risk_output.intake.profiles import (
    BUILTIN_PROFILES,
    Mapped,
    Profile,
    ProfileError,
    Skip,
    load_profile,
    parse_profile,
)
from okta_risk_output.intake.profiles.paths import parse_path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_logs"
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_profile_samples", ROOT / "scripts" / "make_profile_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
SAMPLE_SET = GENERATOR.build()


def outcome(profile: Profile, line: str) -> dict[str, Any] | str:
    """What the lead's reader will get: a signal, "skip:REASON" or "reject:KIND"."""
    try:
        mapped = profile.map(line if profile.takes_text(line) else json.loads(line), now=NOW)
    except (RecordRejected, json.JSONDecodeError) as rejected:
        kind = rejected.kind if isinstance(rejected, RecordRejected) else "not_json"
        return "reject:" + kind
    return "skip:" + mapped.reason if isinstance(mapped, Skip) else mapped


def custom(text: str, **settings: Any) -> Profile:
    return parse_profile(text, "test.toml", **settings)


def problems_of(text: str, **settings: Any) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "test.toml", **settings)
    return caught.value.problems


MINIMAL = """
[ip]
source = "src"
destination = "dst"
[[risk_level]]
field = "sev"
map = { hi = "HIGH", mid = "MEDIUM", lo = "LOW" }
"""

# -- the built-in profiles on their samples ----------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLE_SET, ids=lambda s: s.file)
def test_sample_files_are_as_the_generator_writes_them(sample: Any) -> None:
    on_disk = (SAMPLES / sample.file).read_text("utf-8")
    assert on_disk == "".join(case.line + "\n" for case in sample.cases), (
        "sample_logs/ is stale: run python scripts/make_profile_samples.py"
    )


def test_the_samples_readme_is_as_the_generator_writes_it() -> None:
    assert (SAMPLES / "PROFILES.md").read_text("utf-8") == GENERATOR.describe(SAMPLE_SET)


@pytest.mark.parametrize("sample", SAMPLE_SET, ids=lambda s: s.file)
def test_each_profile_maps_its_sample_to_the_expected_signals(sample: Any) -> None:
    profile = load_profile(sample.profile)
    got = [outcome(profile, case.line) for case in sample.cases]
    assert got == [case.expect for case in sample.cases]


@pytest.mark.parametrize("sample", SAMPLE_SET, ids=lambda s: s.file)
def test_auto_recognises_every_sample_line_as_its_own_profile_would(sample: Any) -> None:
    profile = load_profile("auto")
    got = [outcome(profile, case.line) for case in sample.cases]
    # A line that is neither JSON nor CEF is not skipped as not_cef under auto: it is an
    # unreadable line, dead-lettered like any other.
    expected = [
        "reject:not_json" if case.expect == "skip:not_cef" else case.expect for case in sample.cases
    ]
    assert got == expected


def test_every_sample_has_signals_and_skips() -> None:
    for sample in SAMPLE_SET:
        kinds = {isinstance(case.expect, dict) for case in sample.cases}
        assert kinds == {True, False}, sample.file
        assert 20 <= len(sample.cases) <= 60


def test_builtin_names_and_the_input_each_takes() -> None:
    assert set(BUILTIN_PROFILES) == {"auto", "suricata", "zeek", "cef", "ecs", "splunk-es"}
    for name in BUILTIN_PROFILES:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.description
        assert profile.takes_text("CEF:0|V|P|1|s|n|5|") == (name in ("cef", "auto"))
        assert not profile.takes_text('{"msg": "CEF:0|V|P|1|s|n|5|"}') or name == "cef"


def test_suricata_direction_destination_reports_dest_ip() -> None:
    line = SAMPLE_SET[0].cases[0].line
    record = json.loads(line)
    mapped = load_profile("suricata", direction="destination", allow_non_global_ips=True).map(
        record, now=NOW
    )
    assert isinstance(mapped, dict)
    assert mapped["ip"] == record["dest_ip"]
    assert load_profile("suricata", direction="destination").map(record) == Skip("private")


def test_allow_non_global_ips_maps_private_addresses() -> None:
    record = {"event_type": "alert", "src_ip": "10.1.2.3", "alert": {"severity": 1}}
    assert load_profile("suricata").map(record) == Skip("private")
    mapped = load_profile("suricata", allow_non_global_ips=True).map(record)
    assert mapped == {"ip": "10.1.2.3", "riskLevel": "HIGH", "message": "Suricata"}


def test_strict_leaves_messages_for_the_schema_to_reject() -> None:
    record = {"event_type": "alert", "src_ip": "192.0.2.1", "alert": {"severity": 2}}
    record["alert"]["signature"] = "ET SCAN (x): " + "y" * 600
    loose = load_profile("suricata").map(record)
    strict = load_profile("suricata", strict=True).map(record)
    assert isinstance(loose, dict) and isinstance(strict, dict)
    assert len(loose["message"]) == 512 and "(" not in loose["message"]
    assert strict["message"] == "Suricata " + record["alert"]["signature"]


def test_suricata_ipv6_addresses_are_compressed() -> None:
    record = {"event_type": "alert", "src_ip": "2001:0db8:0000:0000:0000:0000:0000:0042"}
    record["alert"] = {"severity": 3, "signature": "x"}
    assert load_profile("suricata").map(record) == {
        "ip": "2001:db8::42",
        "riskLevel": "LOW",
        "message": "Suricata x",
    }


def test_zeek_reads_flat_dotted_keys_when_src_is_missing() -> None:
    record = {"ts": 1795774530.5, "id.orig_h": "198.51.100.9", "note": "Intel::Notice"}
    assert load_profile("zeek").map(record) == {
        "ip": "198.51.100.9",
        "riskLevel": "HIGH",
        "message": "Zeek Intel Notice",
        "timestamp": "2026-11-27T10:15:30.500Z",
    }


def test_ecs_reads_nested_and_flat_documents_alike() -> None:
    nested = {
        "@timestamp": "2026-11-27T10:15:30.123Z",
        "event": {"kind": "signal"},
        "kibana": {"alert": {"risk_score": 21, "rule": {"name": "Rule"}}},
        "source": {"ip": "203.0.113.1"},
    }
    flat = {
        "@timestamp": "2026-11-27T10:15:30.123Z",
        "event.kind": "signal",
        "kibana.alert.risk_score": 21,
        "kibana.alert.rule.name": "Rule",
        "source.ip": "203.0.113.1",
    }
    expected = {
        "ip": "203.0.113.1",
        "riskLevel": "LOW",
        "message": "Rule",
        "timestamp": "2026-11-27T10:15:30.123Z",
    }
    assert load_profile("ecs").map(nested) == expected
    assert load_profile("ecs").map(flat) == expected


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, "LOW"), (21, "LOW"), (22, "MEDIUM"), (47, "MEDIUM"), (48, "HIGH"), (99, "HIGH")],
)
def test_ecs_risk_score_thresholds(score: int, level: str) -> None:
    record = {"event": {"kind": "alert", "severity": score}, "source": {"ip": "192.0.2.3"}}
    mapped = load_profile("ecs").map(record)
    assert isinstance(mapped, dict)
    assert mapped["riskLevel"] == level


def test_splunk_multivalue_src_and_src_ip_preference() -> None:
    profile = load_profile("splunk-es")
    assert profile.map({"urgency": "high", "src": ["198.51.100.7", "10.0.0.1"]}) == {
        "ip": "198.51.100.7",
        "riskLevel": "HIGH",
    }
    assert profile.map({"urgency": "low", "src": "WKS-1", "src_ip": "192.0.2.8"}) == {
        "ip": "192.0.2.8",
        "riskLevel": "LOW",
    }
    assert profile.map({"urgency": "low", "src": "WKS-1"}) == Skip("not_an_address")


# -- auto ---------------------------------------------------------------------------------------


def test_auto_passes_native_signals_through_normalised() -> None:
    auto = load_profile("auto")
    signal = {"ip": "192.0.2.1", "riskLevel": " high", "message": "a:b", "timestamp": 1795774530}
    assert auto.map(signal) == {
        "ip": "192.0.2.1",
        "riskLevel": "HIGH",
        "message": "a b",
        "timestamp": "2026-11-27T10:15:30.000Z",
    }
    assert auto.map({"ip": "127.0.0.1", "riskLevel": "LOW"}) == Skip("loopback")
    event = {"subjects": [{"ip": "10.0.0.1", "riskLevel": "low"}], "timestamp": 1795774530}
    assert auto.map(event) == {
        "subjects": [{"ip": "10.0.0.1", "riskLevel": "LOW"}],
        "timestamp": "2026-11-27T10:15:30.000Z",
    }


def test_auto_skips_what_it_does_not_recognise_and_rejects_what_is_not_json() -> None:
    auto = load_profile("auto")
    assert auto.map({"hello": "world"}) == Skip("unrecognised")
    assert not auto.takes_text("not json, not cef")
    with pytest.raises(RecordRejected) as caught:
        auto.map("not json, not cef")
    assert caught.value.kind == "not_json"
    with pytest.raises(RecordRejected) as caught:
        auto.map("[1, 2]")
    assert caught.value.kind == "not_object"


def test_a_json_line_that_mentions_cef_is_json() -> None:
    auto = load_profile("auto")
    line = '{"ip": "192.0.2.1", "riskLevel": "LOW", "message": "seen CEF:0|a|b"}'
    assert not auto.takes_text(line)
    assert auto.map(line) == {"ip": "192.0.2.1", "riskLevel": "LOW", "message": "seen CEF 0 a b"}


# -- the declarative format ---------------------------------------------------------------------


def test_a_minimal_profile_file() -> None:
    profile = custom(MINIMAL)
    assert profile.name == "custom"
    assert not profile.takes_text("x")
    assert profile.map({"src": "192.0.2.1", "sev": "Hi"}) == {
        "ip": "192.0.2.1",
        "riskLevel": "HIGH",
    }
    assert profile.map({"src": "192.0.2.1", "sev": "?"}) == Skip("no_risk_level")
    assert profile.map({"sev": "hi"}) == Skip("no_ip")
    assert profile.map('{"src": "192.0.2.1", "sev": "lo"}') == {
        "ip": "192.0.2.1",
        "riskLevel": "LOW",
    }


def test_every_section_of_the_format() -> None:
    profile = custom(
        """
        [profile]
        name = "vpn"
        description = "VPN gateway alerts"

        [[filter]]
        field = "kind"
        in = ["alert", "alarm"]
        skip_reason = "not_alert"

        [[filter]]
        field = "tags"
        not_matches = "(?i)^test"
        skip_reason = "test_event"

        [ip]
        source = ["client.addresses[0]", "client.ip"]

        [[risk_level]]
        field = "score"
        thresholds = { HIGH = 80, MEDIUM = 40, LOW = 0 }

        [[risk_level]]
        level = "MEDIUM"

        [message]
        template = "VPN {rule|name} for {{{user}}} ({missing})"

        [timestamp]
        field = "when"
        format = ["%d/%m/%Y %H:%M:%S", "epoch_ms"]

        [expires]
        after = "2h"
        from = "timestamp"
        """
    )
    record = {
        "kind": "Alarm",
        "tags": ["prod", "vpn"],
        "client": {"addresses": ["203.0.113.4", "203.0.113.5"]},
        "score": 85,
        "name": "Impossible travel",
        "user": "j.doe",
        "when": "27/11/2026 10:15:30",
    }
    assert profile.name == "vpn"
    assert profile.map(record, now=NOW) == {
        "ip": "203.0.113.4",
        "riskLevel": "HIGH",
        "message": "VPN Impossible travel for j.doe",
        "timestamp": "2026-11-27T10:15:30.000Z",
        "expiresAt": "2026-11-27T12:15:30.000Z",
    }
    assert profile.map({**record, "kind": "log"}) == Skip("not_alert")
    assert profile.map({**record, "tags": ["Test-run"]}) == Skip("test_event")
    no_score = {k: v for k, v in record.items() if k != "score"}
    mapped = profile.map({**no_score, "when": 1795774530123}, now=NOW)
    assert isinstance(mapped, dict)
    assert mapped["riskLevel"] == "MEDIUM"
    assert mapped["timestamp"] == "2026-11-27T10:15:30.123Z"


def test_expiry_from_now_and_from_a_field() -> None:
    after_now = custom(MINIMAL + '[expires]\nafter = "30m"\n')
    mapped = after_now.map({"src": "192.0.2.1", "sev": "lo"}, now=NOW)
    assert isinstance(mapped, dict)
    assert mapped["expiresAt"] == "2027-01-15T08:30:00.000Z"
    from_field = custom(MINIMAL + '[expires]\nfield = "until"\n')
    mapped = from_field.map({"src": "192.0.2.1", "sev": "lo", "until": "2027-01-16T00:00:00Z"})
    assert isinstance(mapped, dict)
    assert mapped["expiresAt"] == "2027-01-16T00:00:00.000Z"


def test_message_short_form_and_empty_messages_are_left_out() -> None:
    profile = custom(MINIMAL + 'message = "{title}"\n'.replace("message", "[message]\ntemplate"))
    assert profile.map({"src": "192.0.2.1", "sev": "lo"}) == {"ip": "192.0.2.1", "riskLevel": "LOW"}
    short = parse_profile('message = "{title}"\n' + MINIMAL)
    mapped = short.map({"src": "192.0.2.1", "sev": "lo", "title": "T"})
    assert isinstance(mapped, dict)
    assert mapped["message"] == "T"


def test_extends_starts_from_a_builtin_and_replaces_whole_sections() -> None:
    profile = custom(
        """
        [profile]
        extends = "suricata"
        name = "suricata-outbound"

        [ip]
        source = "dest_ip"
        """
    )
    record = {"event_type": "alert", "src_ip": "10.0.0.1", "dest_ip": "198.51.100.3"}
    record["alert"] = {"severity": 1, "signature": "C2"}
    assert profile.name == "suricata-outbound"
    assert profile.map(record) == {
        "ip": "198.51.100.3",
        "riskLevel": "HIGH",
        "message": "Suricata C2",
    }
    assert profile.map({**record, "event_type": "flow"}) == Skip("not_alert")


def test_a_profile_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL, "utf-8")
    profile = load_profile(str(path))
    assert profile.name == "mine"
    assert profile.map({"src": "192.0.2.1", "sev": "mid"}) == {
        "ip": "192.0.2.1",
        "riskLevel": "MEDIUM",
    }


def test_every_problem_in_a_profile_is_listed_with_where_it_is() -> None:
    problems = problems_of(
        """
        colour = "blue"

        [profile]
        input = "xml"
        nmae = "typo"

        [[filter]]
        field = "a..b"
        equals = "x"
        skip_reason = "two words"

        [[filter]]
        field = "x"
        matches = "(unclosed"

        [[filter]]
        field = "x"
        equals = "a"
        in = ["b"]

        [ip]
        sauce = "src"

        [[risk_level]]
        field = "sev"
        map = { "1" = "SEVERE" }
        thresholds = { LOW = 5, HIGH = 1 }

        [[risk_level]]
        level = "HIGH"
        field = "x"

        [message]
        template = "{unclosed"

        [timestamp]
        field = "ts"
        format = "dd/MM/yyyy"

        [expires]
        after = "soon"
        """
    )
    text = "\n".join(problems)
    for expected in [
        "unknown section 'colour'",
        "profile.input: 'xml'",
        "profile: unknown key 'nmae'",
        "filter[0].field: 'a..b' is not a field path",
        "filter[0].skip_reason: 'two words'",
        "filter[1].matches: '(unclosed' is not a regular expression",
        "filter[2]: give exactly one of",
        "ip: unknown key 'sauce'",
        "ip.source: required",
        "risk_level[0].map.1: 'SEVERE' is not a risk level",
        "risk_level[0].thresholds: thresholds must rise with the level",
        "risk_level[1]: 'level' is a constant",
        "message.template: '{' at column 1 is not closed",
        "timestamp.format[0]: 'dd/MM/yyyy' is not a format",
        "expires.after: 'soon' is not a duration",
    ]:
        assert expected in text, f"missing: {expected}\n{text}"
    assert all(problem.startswith("test.toml: ") for problem in problems)
    assert len(problems) >= 15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[ip\nsource=1", "not valid TOML"),
        ('[ip]\nsource = "src"\n', "risk_level: at least one [[risk_level]] rule is required"),
        ('[[risk_level]]\nlevel = "LOW"\n', "ip: the [ip] section is required"),
        ('[profile]\nextends = "nope"\n' + MINIMAL, "profile.extends: 'nope' is not a built-in"),
        ("risk_level = 3\n[ip]\nsource = 'a'\n", "risk_level: expected one or more"),
        (MINIMAL + "[[filter]]\nfield = 'x'\nexists = 'yes'\n", "filter[0].exists: expected true"),
        (MINIMAL + "[[filter]]\nfield = 'x'\nin = []\n", "filter[0].in: expected a non-empty"),
        (MINIMAL + "[expires]\nafter = '1h'\nfrom = 'then'\n", "expires.from: 'then'"),
        (MINIMAL + "[expires]\nafter = '1h'\nfield = 'x'\n", "either 'field' or 'after'"),
        (MINIMAL + "[message]\ntemplate = 'a } b'\n", "unmatched '}'"),
        (MINIMAL.replace("map = {", "thresholds = { LOW = 'x' }\nmap = {"), "expected a number"),
    ],
)
def test_single_problems_are_named(text: str, expected: str) -> None:
    assert any(expected in problem for problem in problems_of(text)), problems_of(text)


def test_destination_needs_a_destination_field() -> None:
    text = MINIMAL.replace('destination = "dst"\n', "")
    assert custom(text).map({"src": "192.0.2.1", "sev": "hi"}) == {
        "ip": "192.0.2.1",
        "riskLevel": "HIGH",
    }
    assert any("ip.destination" in p for p in problems_of(text, direction="destination"))


def test_load_profile_errors_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile("no-such-profile")
    assert "auto, cef, ecs, splunk-es, suricata, zeek" in str(caught.value)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(str(tmp_path / "missing.toml"))
    with pytest.raises(ProfileError, match="direction"):
        load_profile("suricata", direction="sideways")


def test_builtin_profiles_are_package_data_in_the_same_format() -> None:
    folder = ROOT / "okta_risk_output" / "intake" / "profiles" / "builtin"
    names = sorted(p.stem for p in folder.glob("*.toml"))
    assert names == sorted(set(BUILTIN_PROFILES) - {"auto"})
    for path in folder.glob("*.toml"):
        assert parse_profile(path.read_text("utf-8"), str(path)).name == path.stem


# -- the engine's parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "record", "found"),
    [
        ("a.b", {"a": {"b": 1}}, 1),
        ("a.b", {"a.b": 1}, 1),
        ("a.b.c", {"a": {"b.c": 2}}, 2),
        ("a.b.c", {"a.b": {"c": 3}}, 3),
        ("a.b", {"a.b": None, "a": {"b": 4}}, 4),
        ("a.b", {"a": {"b": None}}, None),
        ("a.b", {"a": "not an object"}, None),
        ("x[0]", {"x": [5, 6]}, 5),
        ("x[-1]", {"x": [5, 6]}, 6),
        ("x[2]", {"x": [5, 6]}, None),
        ("x[0].y", {"x": [{"y": 7}]}, 7),
        ("x[0][1]", {"x": [[8, 9]]}, 9),
        ("@timestamp", {"@timestamp": "t"}, "t"),
        ("id.orig_h", {"id.orig_h": "192.0.2.1", "id": {"orig_h": "other"}}, "192.0.2.1"),
    ],
)
def test_field_paths_find_nested_and_dotted_keys(path: str, record: Any, found: Any) -> None:
    assert parse_path(path).find(record) == found


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "a[x]", "a[0", "a]b", 5, None])
def test_bad_field_paths_are_refused(path: Any) -> None:
    with pytest.raises(ValueError):
        parse_path(path)


def test_path_search_stays_cheap_on_records_built_to_defeat_it() -> None:
    record: dict[str, Any] = {}
    for _ in range(30):  # every prefix of a.a.a... exists, nested and dotted
        record = {"a": record, **{".".join(["a"] * k): record for k in range(2, 4)}}
    assert parse_path(".".join(["a"] * 31) + ".missing").find(record) is None


def test_conditions_on_arrays_absent_fields_and_case() -> None:
    def passes(op: str, record: dict[str, Any]) -> bool:
        profile = custom(MINIMAL + f"[[filter]]\nfield = 'tags'\n{op}\n")
        mapped = profile.map({"src": "192.0.2.1", "sev": "hi", **record})
        return not isinstance(mapped, Skip)

    assert passes("equals = 'PROD'", {"tags": ["dev", "prod"]})
    assert not passes("equals = 'prod'", {})
    assert passes("not_in = ['prod']", {})
    assert not passes("not_in = ['prod']", {"tags": ["Prod"]})
    assert passes("matches = '^p'", {"tags": "prod"})
    assert not passes("matches = '^P'", {"tags": "prod"})
    assert passes("not_matches = 'x'", {})
    assert passes("exists = true", {"tags": {"nested": 1}})
    assert not passes("exists = true", {"tags": ""})
    assert passes("exists = false", {"tags": None})
    assert passes("equals = 1", {"tags": 1.0})
    assert passes("equals = true", {"tags": True})


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", "^ET(?= )", "(?!x)y", "(?<=x)y", "(?<!x)y", r"end\Z"],
    ids=["backreference", "lookahead", "negative-lookahead", "lookbehind", "neg-lookbehind", "Z"],
)
def test_patterns_re2_cannot_run_in_linear_time_are_refused_at_load(
    pattern: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # Refused where the profile is loaded, never while a record is matched.
    problems = problems_of(MINIMAL + f"[[filter]]\nfield = 'x'\nnot_matches = '{pattern}'\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"test.toml: filter[0].not_matches: {pattern!r} uses what RE2")
    assert "no backreferences, lookahead or lookbehind" in problems[0]
    assert capfd.readouterr().err == ""  # RE2's own error log stays off our stderr


def test_patterns_match_as_before_in_re2() -> None:
    def passes(pattern: str, value: str) -> bool:
        profile = custom(MINIMAL + f"[[filter]]\nfield = 'x'\nmatches = '{pattern}'\n")
        return not isinstance(profile.map({"src": "192.0.2.1", "sev": "hi", "x": value}), Skip)

    assert passes("^(a+)+$", "aaaa") and not passes("^(a+)+$", "aaa!")
    assert passes("(?i)^et scan", "ET SCAN Nmap") and not passes("^et scan", "ET SCAN")
    assert passes(r"^(?P<kind>SSH|FTP)::\w+$", "SSH::Password_Guessing")
    assert not passes("^(Scan|SSH)::", "Notice::Tally")


def test_an_unreadable_timestamp_is_passed_on_and_an_absent_one_left_out() -> None:
    profile = custom(MINIMAL + "[timestamp]\nfield = 'ts'\n")
    base = {"src": "192.0.2.1", "sev": "hi"}
    unreadable = profile.map({**base, "ts": "yesterday"})
    assert isinstance(unreadable, dict)
    assert unreadable["timestamp"] == "yesterday"
    assert profile.map(base) == {"ip": "192.0.2.1", "riskLevel": "HIGH"}


def test_an_invalid_address_is_passed_on_for_the_schema() -> None:
    assert custom(MINIMAL).map({"src": "300.1.2.3", "sev": "hi"}) == {
        "ip": "300.1.2.3",
        "riskLevel": "HIGH",
    }


def test_map_returns_only_signals_or_skips() -> None:
    result: Mapped = custom(MINIMAL).map({"src": "192.0.2.1", "sev": "hi"})
    assert isinstance(result, (dict, Skip))


# -- the map command ----------------------------------------------------------------------------


def test_map_command_prints_signals_and_counts(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        map_command, ["--profile", "cef", str(SAMPLES / "cef.log")], catch_exceptions=False
    )
    assert result.exit_code == 0
    sample = next(s for s in SAMPLE_SET if s.file == "cef.log")
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed == [c.expect for c in sample.cases if isinstance(c.expect, dict)]
    summary = result.stderr.strip().splitlines()[-1]
    assert summary == "INFO " + GENERATOR._summary_line(sample)


def test_map_command_reports_profile_problems_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ip]\nsource = 'a..b'\n", "utf-8")
    result = CliRunner().invoke(map_command, ["--profile", str(bad), str(bad)])
    assert result.exit_code == 2
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and all(line.startswith("ERROR ") for line in errors)


def test_map_command_counts_lines_that_would_be_dead_lettered() -> None:
    lines = (
        '{"ip": "300.1.1.1", "riskLevel": "HIGH"}\n'
        "not json\n"
        "\n"
        '{"ip": "192.0.2.1", "riskLevel": "low"}\n'
    )
    result = CliRunner().invoke(map_command, [], input=lines)
    assert result.exit_code == 0
    assert result.stdout == '{"ip":"192.0.2.1","riskLevel":"LOW"}\n'
    assert result.stderr.splitlines()[-1] == (
        "INFO map profile=auto lines=4 signals=1 skipped=1 (blank=1) "
        "would_dead_letter=2 (invalid=1 not_json=1)"
    )


def test_map_command_runs_as_a_program() -> None:
    # Through the program's own start (cli/entry.py), as every command runs: the command
    # modules have no `__main__` of their own, which would skip that start.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "okta_risk_output",
            "map",
            "--profile",
            "zeek",
            str(SAMPLES / "zeek_notice.jsonl"),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == sum(
        isinstance(c.expect, dict) for c in SAMPLE_SET[1].cases
    )
    assert done.stderr.decode().startswith("INFO map profile=zeek")


def test_a_mistyped_profile_name_gets_a_suggestion() -> None:
    with pytest.raises(ProfileError, match="no profile 'suricat': did you mean 'suricata'\\?"):
        load_profile("suricat")
    with pytest.raises(ProfileError) as nothing_close:
        load_profile("qradar")
    assert "did you mean" not in str(nothing_close.value)
