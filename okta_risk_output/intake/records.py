"""One input line -> one RiskEvent dict, or RecordRejected with every reason.

A line holds either an Okta RiskEvent (it has `subjects`) or a flat signal
{ip, riskLevel, message?, timestamp?, expiresAt?} that is wrapped into a one-subject event.
Normalisation is forgiving (timestamps, riskLevel case) unless strict; validity is decided
only by the schema, through validation.py. Every address is written in its canonical text,
strict or not: the spool coalesces on that text, and it never changes the schema's verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from okta_risk_output.depth import nests_deeper_than
from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake.profiles import Profile, Skip, canonical_subjects, sanitise_message
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.validation import SchemaError, Validator, event_validator
from okta_risk_output.levels import normal_level
from okta_risk_output.timestamps import format_utc, normalise_timestamp

__all__ = ["MAX_DEPTH", "RecordMapper", "is_blank"]

MAX_DEPTH = 32
"""Deeper JSON than this is refused before validation: a RiskEvent is 4 levels deep."""

_SUBJECT_KEYS = ("ip", "riskLevel", "message")
_EVENT_KEYS = ("timestamp", "expiresAt")
_SIGNAL_KEYS = _SUBJECT_KEYS + _EVENT_KEYS
_FLAT_PREFIX = "$.subjects[0]"


def is_blank(line: Line) -> bool:
    return not line.oversized and not line.data.strip()


@dataclass(frozen=True)
class RecordMapper:
    """Maps lines to validated RiskEvents. Settings are fixed; `now` is passed per call."""

    strict: bool = False
    default_expires_in: float | None = None
    max_line_bytes: int = 1 << 20
    validator: Validator | None = None
    profile: Profile | None = None
    """Maps foreign records (Suricata, CEF, ...) to signals first; None: the native forms."""
    allow_non_global_ips: bool = False
    """For native input; a profile applies its own setting (config's record_mapper gives
    both the same)."""

    def to_event(self, line: Line, now: float) -> dict[str, Any]:
        """The line's RiskEvent, ready to send.

        Raises RecordRejected when it cannot be one (dead-letter it), RecordSkipped when it
        should not be one (a record the profile does not apply to; only addresses Okta
        never sees a sign-in from).
        """
        if line.oversized:
            raise _reject(
                "too_long", f"line is {line.size} bytes; the limit is {self.max_line_bytes}"
            )
        try:
            text = line.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _reject("not_utf8", f"not UTF-8: byte {exc.start + 1} is invalid") from None
        profile = self.profile
        if profile is not None and profile.takes_text(text):
            mapped = profile.map(text, now=now)
        else:
            record = _parse_object(text)
            mapped = record if profile is None else profile.map(record, now=now)
        if isinstance(mapped, Skip):
            raise RecordSkipped(mapped.reason)
        # A profile's flat signal has had its address made canonical and judged already.
        return self._event_from(mapped, now, addresses_done=profile is not None)

    def _event_from(
        self, record: dict[str, Any], now: float, addresses_done: bool = False
    ) -> dict[str, Any]:
        flat = "subjects" not in record
        problems: list[SchemaError] = []
        if flat:
            if "ip" not in record and "riskLevel" not in record:
                raise _reject(
                    "invalid",
                    "neither a RiskEvent (no 'subjects') nor a signal (no 'ip' and 'riskLevel')",
                )
            unknown = sorted(k for k in record if k not in _SIGNAL_KEYS)
            problems += [
                SchemaError(
                    f"$.{k}", f"unknown field {k!r}; a signal has {', '.join(_SIGNAL_KEYS)}"
                )
                for k in unknown
            ]
            event = _wrap(record)
        else:
            event = dict(record)
        if not self.strict:
            _normalise(event)
        if not (flat and addresses_done):
            _canonical_addresses(event, skip_non_global=not self.allow_non_global_ips)
        if self.default_expires_in is not None and "expiresAt" not in event:
            event["expiresAt"] = format_utc(now + self.default_expires_in)
        found = (self.validator or event_validator()).errors(event)
        if flat:
            found = [SchemaError(_flat_path(e.path), e.message) for e in found]
        problems += found
        if problems:
            raise RecordRejected("invalid", sorted(problems, key=lambda e: e.path))
        return event


def _wrap(signal: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {k: signal[k] for k in _EVENT_KEYS if k in signal}
    event["subjects"] = [{k: signal[k] for k in _SUBJECT_KEYS if k in signal}]
    return event


def _normalise(event: dict[str, Any]) -> None:
    for key in _EVENT_KEYS:
        if key in event:
            event[key] = normalise_timestamp(event[key])
    subjects = event.get("subjects")
    if isinstance(subjects, list):
        event["subjects"] = [_normalise_subject(s) for s in subjects]


def _normalise_subject(subject: Any) -> Any:
    if not isinstance(subject, dict):
        return subject
    level = subject.get("riskLevel")
    # Only a level that then is valid is rewritten, so an error quotes what the user wrote.
    if (normal := normal_level(level)) is not None:
        subject = {**subject, "riskLevel": normal}
    message = subject.get("message")
    if isinstance(message, str):
        # Okta's alphabet is narrow; the signal matters more than its wording.
        subject = {**subject, "message": sanitise_message(message)}
    return subject


def _canonical_addresses(event: dict[str, Any], skip_non_global: bool) -> None:
    """Write each subject's address in canonical text (2001:DB8::1 and 2001:0db8::0001 are one
    address, which the spool must coalesce) and, when `skip_non_global`, drop the subjects
    whose address Okta can never see a sign-in from; skip the record if none is left. One
    parse per address serves both: this is the hot path of intake."""
    subjects = event.get("subjects")
    if not isinstance(subjects, list):
        return
    kept, reason = canonical_subjects(subjects, skip_non_global)
    if reason:
        raise RecordSkipped(reason)
    event["subjects"] = kept


def _parse_object(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except RecursionError:
        raise _reject("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise _reject("not_json", f"not JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer longer than Python will convert
        raise _reject("not_json", f"not usable JSON: {str(exc)[:120]}") from None
    if not isinstance(record, dict):
        raise _reject("not_object", f"expected a JSON object, got {_json_type(record)}")
    if nests_deeper_than(record, MAX_DEPTH):
        raise _reject("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    return record


def _flat_path(path: str) -> str:
    """Report errors of a wrapped signal at the paths the user wrote: $.ip, not $.subjects[0].ip."""
    if path.startswith(_FLAT_PREFIX):
        return "$" + path[len(_FLAT_PREFIX) :]
    return path


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", list: "an array", str: "a string"}.get(type(value), "a number")


def _reject(kind: str, message: str) -> RecordRejected:
    return RecordRejected(kind, [SchemaError("$", message)])
