"""`validate`: the sample files' verdicts, both output formats, exit codes, the headline."""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from okta_risk_output.cli.validate import validate_command
from okta_risk_output.config.settings import build_settings, record_mapper
from okta_risk_output.intake.check import Checker, most_relevant_first
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.records import RecordMapper
from okta_risk_output.intake.validation import SchemaError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
BROKEN = str(SAMPLES / "broken.jsonl")

# sample_logs/README.md: the lines of broken.jsonl a run dead-letters, and their kinds.
BROKEN_KINDS = {
    2: "not_json",
    4: "not_object",
    5: "not_object",
    6: "not_object",
    9: "not_object",
    10: "too_deep",
    11: "too_long",
    12: "not_utf8",
    **{n: "invalid" for n in (15, 16, 17, 18, 19, 20, 23, 25, 26, 27, 28, 29)},
}
LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+): (?P<kind>\w+): (?P<path>\$\S*): (?P<msg>.+)$")


def invoke(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(validate_command, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_broken_file_lists_every_bad_line_with_its_number_then_the_counts() -> None:
    code, out, err = invoke(BROKEN)
    assert code == 1
    *reports, summary = out.splitlines()
    parsed = [LINE.match(text) for text in reports]
    assert all(parsed), reports
    kinds = {int(m["line"]): m["kind"] for m in parsed if m}
    assert kinds == BROKEN_KINDS
    assert all(m["file"] == BROKEN for m in parsed if m)
    assert summary == "29 lines: 4 valid, 20 invalid, 0 skipped, 5 blank"
    assert err == ""


def test_broken_file_names_the_errors_in_plain_words_at_their_paths() -> None:
    _, out, _ = invoke(BROKEN)
    assert f"{BROKEN}:15: invalid: $.ip: '300.1.2.3' is not an IPv4 or IPv6 address" in out
    assert f"{BROKEN}:20: invalid: $.riskLevel: riskLevel 'CRITICAL' is not one of" in out
    assert f"{BROKEN}:23: invalid: $.severity: unknown field 'severity'" in out
    assert f"{BROKEN}:26: invalid: $.subjects: has 51 items; at most 50 allowed" in out
    assert f"{BROKEN}:11: too_long: $: line is 1100089 bytes" in out


def test_json_format_is_one_object_per_bad_line_and_a_summary() -> None:
    code, out, _ = invoke("--format", "json", BROKEN)
    assert code == 1
    objects = [json.loads(text) for text in out.splitlines()]
    *bad, summary = objects
    assert [o["type"] for o in bad] == ["invalid"] * 20
    assert {o["line"]: o["kind"] for o in bad} == BROKEN_KINDS
    assert all(o["headline"] == o["errors"][0] for o in bad)
    assert summary == {
        "type": "summary",
        "lines": 29,
        "valid": 4,
        "invalid": 20,
        "skipped": 0,
        "blank": 5,
        "skipped_by_reason": {},
    }


def test_valid_files_exit_0() -> None:
    code, out, _ = invoke(str(SAMPLES / "signals.jsonl"), str(SAMPLES / "risk_events.jsonl"))
    assert (code, out) == (0, "320 lines: 320 valid, 0 invalid, 0 skipped, 0 blank\n")


def test_strict_applies_as_in_run() -> None:
    code, out, _ = invoke("--strict", BROKEN)
    assert code == 1
    # Lines 13 (riskLevel `medium`), 21 (forbidden characters) and 22 (600 characters) pass
    # only because of normalisation.
    assert {13, 21, 22} <= {int(m["line"]) for m in map(LINE.match, out.splitlines()) if m}


def test_skipped_records_are_counted_by_reason_not_errors() -> None:
    code, out, _ = invoke("--profile", "suricata", str(SAMPLES / "suricata_eve.jsonl"))
    assert code == 0
    assert out == (
        "37 lines: 20 valid, 0 invalid, 17 skipped "
        "(cgnat=1 link-local=1 loopback=1 not_alert=12 private=2), 0 blank\n"
    )


def test_stdin_is_read_when_no_file_is_given() -> None:
    stdin = b'{"ip": "203.0.113.5", "riskLevel": "high"}\n\n{"ip": "x"}\n'
    code, out, _ = invoke(stdin=stdin)
    assert code == 1
    assert out.splitlines() == [
        "<stdin>:3: invalid: $: 'riskLevel' is a required property",
        "<stdin>:3: invalid: $.ip: 'x' is not an IPv4 or IPv6 address "
        "(no prefix length, no zone id, no leading zeros)",
        "3 lines: 1 valid, 1 invalid, 0 skipped, 1 blank",
    ]


def test_a_bad_setting_is_a_usage_error_on_stderr() -> None:
    code, out, err = invoke("--max-line-bytes", "3", BROKEN)
    assert code == 2 and out == ""
    assert err.startswith("ERROR --max-line-bytes")
    assert invoke("--format", "yaml", BROKEN)[0] == 2


def test_headline_is_jsonschemas_best_match() -> None:
    checker = Checker(record_mapper(build_settings({}, {}, delivery=False)))
    event = {
        "timestamp": "x",
        "extra": 1,
        "subjects": [{"ip": "1.2.3.400", "riskLevel": "bad"}, {"riskLevel": "HIGH"}],
    }
    bad = checker.check(Line("s", 1, json.dumps(event).encode(), 10), 0.0)
    assert bad is not None
    # The misplaced field at the top explains more than the values below it.
    assert bad.headline.path == "$"
    assert "extra" in bad.headline.message
    assert len(bad.errors) == 5


def test_headline_of_a_flat_signal_uses_the_paths_the_user_wrote() -> None:
    checker = Checker(record_mapper(build_settings({}, {}, delivery=False)))
    data = b'{"ip": "x", "riskLevel": "BAD", "timestamp": "no"}'
    bad = checker.check(Line("s", 1, data, len(data)), 0.0)
    assert bad is not None
    assert bad.headline.path == "$.timestamp"
    assert [e.path for e in bad.errors[1:]] == ["$.ip", "$.riskLevel"]


def test_without_a_schema_verdict_the_shallowest_error_leads() -> None:
    errors = [SchemaError("$.a.b", "deep"), SchemaError("$.c", "shallow"), SchemaError("$.d", "x")]
    assert [e.message for e in most_relevant_first(errors)] == ["shallow", "deep", "x"]
    assert [e.message for e in most_relevant_first(errors, "$.d")] == ["x", "deep", "shallow"]
    assert most_relevant_first([]) == ()


def test_mapper_is_built_like_runs() -> None:
    # validate must judge with the mapper `run` uses; a new RecordMapper field must be
    # passed here too (and in shipper.py), so this test names them all.
    assert {f.name for f in fields(RecordMapper)} == {
        "strict",
        "default_expires_in",
        "max_line_bytes",
        "validator",
        "profile",
        "allow_non_global_ips",
    }
    settings = build_settings(
        {"strict": True, "max_line_bytes": "100", "default_expires_in": "1h"}, {}, delivery=False
    )
    mapper = record_mapper(settings)
    assert (mapper.strict, mapper.max_line_bytes, mapper.default_expires_in) == (
        True,
        100,
        3600.0,
    )


def test_non_global_addresses_are_skipped_unless_allowed() -> None:
    stdin = b'{"ip": "10.0.0.1", "riskLevel": "HIGH"}\n'
    assert invoke(stdin=stdin)[1].endswith("1 skipped (private=1), 0 blank\n")
    code, out, _ = invoke("--allow-non-global-ips", stdin=stdin)
    assert (code, out) == (0, "1 lines: 1 valid, 0 invalid, 0 skipped, 0 blank\n")


def test_validate_writes_nothing_but_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner(env={"XDG_STATE_HOME": str(tmp_path / "state")}).invoke(
        validate_command, [BROKEN]
    )
    assert result.exit_code == 1
    assert os.listdir(work) == []  # no dead-letter file
    assert not (tmp_path / "state").exists()  # no spool
