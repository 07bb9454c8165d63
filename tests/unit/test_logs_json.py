"""Log lines: JSON lines parse and stay one line each; text stays as it was."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from okta_risk_output.observe.logs import log, setup_logging


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    setup_logging()


def test_json_lines_parse_with_time_level_message_logger() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", stream, fmt="json")
    log.info("summary lines=%d", 3)
    log.warning("line 2: 'x'\nis not\r\nan address")
    log.debug("détail")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    assert [e["level"] for e in entries] == ["INFO", "WARN", "DEBUG"]
    assert entries[0]["message"] == "summary lines=3"
    assert entries[1]["message"] == "line 2: 'x'\nis not\r\nan address"
    assert entries[2]["message"] == "détail"
    assert all(e["logger"] == "okta_risk_output" for e in entries)
    assert all(set(e) == {"time", "level", "message", "logger"} for e in entries)
    stamp = entries[0]["time"]
    assert stamp.endswith("Z") and len(stamp) == 24 and stamp[10] == "T"
    assert stream.getvalue().isascii()


def test_json_carries_an_exception_on_the_same_line() -> None:
    stream = io.StringIO()
    setup_logging("INFO", stream, fmt="json")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("unexpected error")
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and "ValueError: boom" in entry["exception"]


def test_text_is_unchanged_level_word_first_one_line() -> None:
    stream = io.StringIO()
    setup_logging("INFO", stream)
    log.warning("a\nb")
    log.error("c")
    log.debug("hidden")
    assert stream.getvalue() == "WARN a\\nb\nERROR c\n"


def test_level_filters_and_an_unknown_format_is_refused() -> None:
    stream = io.StringIO()
    setup_logging("WARN", stream, fmt="json")
    log.info("hidden")
    log.warning("shown")
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == ["shown"]
    with pytest.raises(ValueError, match="not one of text, json"):
        setup_logging("INFO", stream, fmt="yaml")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_lone_surrogate_from_input_is_quoted_not_written_raw(fmt: str) -> None:
    # A JSON key "\ud800" decodes to a lone surrogate; no UTF-8 stream can take it, and a
    # raw one in a log record broke pytest-xdist's report of the test that logged it.
    stream = io.StringIO()
    setup_logging("INFO", stream, fmt=fmt)
    log.warning("line %d: unknown field %s", 3, "\ud800")
    text = stream.getvalue()
    text.encode("utf-8")  # raises if the surrogate went through
    assert "\\ud800" in text


def test_a_bad_format_string_is_the_handler_s_to_report_not_the_caller_s(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The surrogate filter formats the message itself; a mismatched argument must not
    # raise into the delivery or intake thread that logged it (logging reports it instead).
    stream = io.StringIO()
    setup_logging("INFO", stream)
    log.warning("%d signals", "x")
    log.info("after")
    assert stream.getvalue().endswith("INFO after\n")
    assert "--- Logging error ---" in capsys.readouterr().err
