"""`okta-risk-output map`: the signals a file would produce, without sending anything.

stdout is this command's protocol: one JSON signal per line, exactly as it would be handed to
validation and sent (flat; a RiskEvent passed through by `auto` as `run` would spool it: its
addresses in canonical text, the subjects `run` skips left out). stderr gets the log: a WARN
line per line that would be dead-lettered (the first 20) and, at the end, one INFO line with
the counts by reason. Lines are read as `run` reads them: BOM, CRLF and the
1 MiB line limit included.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, BinaryIO

import click

from okta_risk_output.cli.command import Command
from okta_risk_output.cli.options import own_options
from okta_risk_output.config.table import DEFAULTS, SETTINGS
from okta_risk_output.errors import ExitStatus, RecordRejected
from okta_risk_output.intake.profiles.engine import Profile, Skip
from okta_risk_output.intake.profiles.loader import ProfileError, load_profile
from okta_risk_output.intake.profiles.sanitise import canonical_subjects
from okta_risk_output.intake.reader import Line, read_lines
from okta_risk_output.intake.validation import SchemaError, event_validator
from okta_risk_output.observe.logs import log, setup_logging

__all__ = ["map_command"]

MAX_LINE_BYTES = int(DEFAULTS["max_line_bytes"])
"""run's default limit (map takes no --max-line-bytes)."""
_LOGGED_REJECTIONS = 20
_SIGNAL_KEYS = ("ip", "riskLevel", "message")
_EVENT_KEYS = ("timestamp", "expiresAt")


@click.command("map", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@own_options("map", SETTINGS)
def map_command(
    files: tuple[str, ...],
    profile: str,
    direction: str,
    allow_non_global_ips: bool,
    strict: bool,
) -> ExitStatus:
    """Print the signals FILES (or stdin) would produce under a profile, sending nothing.

    One JSON signal per line on stdout; the counts of what was skipped or would be
    dead-lettered, by reason, on stderr.
    """
    setup_logging()
    try:
        loaded = load_profile(
            profile,
            direction=direction,
            strict=strict,
            allow_non_global_ips=allow_non_global_ips,
        )
    except ProfileError as error:
        for problem in error.problems:
            log.error("%s", problem)
        return ExitStatus.USAGE
    tally = _Tally()
    with ExitStack() as stack:
        for name in files or ("-",):
            stream: BinaryIO = (
                sys.stdin.buffer if name == "-" else stack.enter_context(open(name, "rb"))
            )
            for line, outcome in _map_lines(loaded, stream, "<stdin>" if name == "-" else name):
                if isinstance(outcome, dict):
                    click.echo(json.dumps(outcome, separators=(",", ":"), ensure_ascii=False))
                tally.count(line, outcome)
    log.info("%s", tally.summary(loaded.name))
    return ExitStatus.OK


def _map_lines(
    profile: Profile, stream: BinaryIO, source: str
) -> Iterator[tuple[Line, dict[str, Any] | Skip | RecordRejected]]:
    for line in read_lines(stream, source, MAX_LINE_BYTES):
        try:
            yield line, _map_line(profile, line)
        except RecordRejected as rejected:
            yield line, rejected


def _map_line(profile: Profile, line: Line) -> dict[str, Any] | Skip:
    """What `run` would make of the line, short of sending it: mirrors records.py's steps."""
    if line.oversized:
        raise _rejected("too_long", f"line is {line.size} bytes; the limit is {MAX_LINE_BYTES}")
    if not line.data.strip():
        return Skip("blank")
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise _rejected("not_utf8", f"not UTF-8: byte {problem.start + 1} is invalid") from None
    mapped = profile.map(text, now=time.time())
    if isinstance(mapped, Skip):
        return mapped
    if isinstance(mapped.get("subjects"), list):
        # A RiskEvent from `auto`: its subjects are records.py's to judge, so do as it does.
        skip_non_global = not profile.settings.allow_non_global_ips
        subjects, reason = canonical_subjects(mapped["subjects"], skip_non_global)
        if reason:
            return Skip(reason)
        mapped = {**mapped, "subjects": subjects}
    errors = event_validator().errors(_as_event(mapped))
    if errors:
        raise RecordRejected("invalid", [SchemaError(_flat(e.path), e.message) for e in errors])
    return mapped


def _as_event(mapped: dict[str, Any]) -> dict[str, Any]:
    if "subjects" in mapped:
        return mapped
    event = {k: mapped[k] for k in _EVENT_KEYS if k in mapped}
    # Every other key goes to the subject, so that the schema names an unknown one.
    event["subjects"] = [{k: v for k, v in mapped.items() if k not in _EVENT_KEYS}]
    return event


def _flat(path: str) -> str:
    prefix = "$.subjects[0]"
    return "$" + path[len(prefix) :] if path.startswith(prefix) else path


def _rejected(kind: str, message: str) -> RecordRejected:
    return RecordRejected(kind, [SchemaError("$", message)])


class _Tally:
    def __init__(self) -> None:
        self.lines = 0
        self.signals = 0
        self.skipped: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()

    def count(self, line: Line, outcome: dict[str, Any] | Skip | RecordRejected) -> None:
        self.lines += 1
        if isinstance(outcome, Skip):
            self.skipped[outcome.reason] += 1
        elif isinstance(outcome, RecordRejected):
            self.rejected[outcome.kind] += 1
            if sum(self.rejected.values()) <= _LOGGED_REJECTIONS:
                log.warning("%s:%d would be dead-lettered: %s", line.source, line.number, outcome)
        else:
            self.signals += 1

    def summary(self, profile: str) -> str:
        return (
            f"map profile={profile} lines={self.lines} signals={self.signals} "
            f"skipped={sum(self.skipped.values())}{_reasons(self.skipped)} "
            f"would_dead_letter={sum(self.rejected.values())}{_reasons(self.rejected)}"
        )


def _reasons(counts: Counter[str]) -> str:
    if not counts:
        return ""
    return " (" + " ".join(f"{reason}={n}" for reason, n in sorted(counts.items())) + ")"
