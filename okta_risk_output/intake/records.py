"""One input line -> one RiskEvent dict, or RecordRejected with every reason.

A line holds either an Okta RiskEvent (it has `subjects`) or a flat signal
{ip, riskLevel, message?, timestamp?, expiresAt?} that is wrapped into a one-subject event.
Normalisation is forgiving (timestamps, riskLevel case) unless strict; validity is decided
only by the schema, through validation.py. Every address is written in its canonical text,
strict or not: the spool coalesces on that text, and it never changes the schema's verdict.

This is intake's hot path, a few microseconds a line: the flat signal is built in one pass,
the JSON is read by msgspec where it reads what json.loads would, and each step's common
case (a clean message, a dotted quad, a UTC timestamp) is recognised before the general one.
tests/unit/test_mapping_corpus.py holds the output to what the plain steps give.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from okta_risk_output.depth import nests_deeper_than
from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake.profiles.sanitise import (
    canonical_subject,
    canonical_subjects,
    sanitise_message,
)
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.validation import SchemaError, Validator, event_validator
from okta_risk_output.levels import normal_level
from okta_risk_output.timestamps import format_utc, normalise_timestamp

if TYPE_CHECKING:
    from okta_risk_output.intake.profiles import Profile

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
        data = line.data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _reject("not_utf8", f"not UTF-8: byte {exc.start + 1} is invalid") from None
        profile = self.profile
        if profile is not None and profile.takes_text(text):
            mapped = profile.map(text, now=now)
        else:
            record = _parse_object(text, data)
            mapped = record if profile is None else profile.map(record, now=now)
        if not isinstance(mapped, dict):  # a Skip (profiles/engine.py, loaded with a profile)
            raise RecordSkipped(mapped.reason)
        if "subjects" in mapped:
            return self._event_from(mapped, now)
        # A profile's flat signal has had its address made canonical and judged already.
        return self._signal_event(mapped, now, addresses_done=profile is not None)

    def _signal_event(
        self, signal: dict[str, Any], now: float, addresses_done: bool
    ) -> dict[str, Any]:
        """A flat signal wrapped into its one-subject event, normalised and validated, built
        in one pass: timestamp, expiresAt and subjects, the subject's ip, riskLevel, message
        in that order, whatever order the line gave them."""
        if "ip" not in signal and "riskLevel" not in signal:
            raise _reject(
                "invalid",
                "neither a RiskEvent (no 'subjects') nor a signal (no 'ip' and 'riskLevel')",
            )
        strict = self.strict
        event: dict[str, Any] = {}
        for key in _EVENT_KEYS:
            if key in signal:
                event[key] = signal[key] if strict else normalise_timestamp(signal[key])
        subject = {key: signal[key] for key in _SUBJECT_KEYS if key in signal}
        unknown = len(signal) != len(event) + len(subject)
        if not strict:
            if (level := normal_level(subject.get("riskLevel"))) is not None:
                subject["riskLevel"] = level  # only a level then valid: errors quote the input
            message = subject.get("message")
            if isinstance(message, str):
                # Okta's alphabet is narrow; the signal matters more than its wording.
                subject["message"] = sanitise_message(message)
        if not addresses_done:
            subject, reason = canonical_subject(subject, not self.allow_non_global_ips)
            if reason:
                raise RecordSkipped(reason)
        event["subjects"] = [subject]
        if self.default_expires_in is not None and "expiresAt" not in event:
            event["expiresAt"] = format_utc(now + self.default_expires_in)
        found = (self.validator or event_validator()).errors(event)
        if not found and not unknown:
            return event
        problems = [
            SchemaError(f"$.{k}", f"unknown field {k!r}; a signal has {', '.join(_SIGNAL_KEYS)}")
            for k in sorted(k for k in signal if k not in _SIGNAL_KEYS)
        ]
        problems += [SchemaError(_flat_path(e.path), e.message) for e in found]
        raise RecordRejected("invalid", sorted(problems, key=lambda e: e.path))

    def _event_from(self, record: dict[str, Any], now: float) -> dict[str, Any]:
        """A RiskEvent (it has `subjects`), normalised and validated."""
        event = dict(record)
        if not self.strict:
            _normalise(event)
        _canonical_addresses(event, skip_non_global=not self.allow_non_global_ips)
        if self.default_expires_in is not None and "expiresAt" not in event:
            event["expiresAt"] = format_utc(now + self.default_expires_in)
        found = (self.validator or event_validator()).errors(event)
        if found:
            raise RecordRejected("invalid", sorted(found, key=lambda e: e.path))
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
    parse per address serves both."""
    subjects = event.get("subjects")
    if not isinstance(subjects, list):
        return
    kept, reason = canonical_subjects(subjects, skip_non_global)
    if reason:
        raise RecordSkipped(reason)
    event["subjects"] = kept


def _parse_object(text: str, data: bytes) -> dict[str, Any]:
    """The JSON object `text` (whose UTF-8 is `data`) holds, or RecordRejected saying why not.

    The json module decides what is JSON and words every refusal; msgspec reads the lines it
    is sure to read the same way, about four times faster (see _fast_decode).
    """
    record = _fast_decode(data)
    if record is _UNSURE:
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
    # A value nests no deeper than its brackets plus one: counting them (in strings too, so at
    # worst too many) spares walking the common record, which cost more than decoding it.
    if data.count(b"{") + data.count(b"[") >= MAX_DEPTH and nests_deeper_than(record, MAX_DEPTH):
        raise _reject("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    return record


_UNSURE: Any = object()
EAGER_LINES = 256
"""Lines a process parses with the json module alone before it loads msgspec: the import
costs more than parsing a few hundred lines, which is all a short host run has."""
_parsed = 0
_decode: Callable[[bytes], Any] | None = None


def _fast_decode(data: bytes) -> Any:
    """msgspec's reading of `data`, or _UNSURE: the json module must read it.

    msgspec reads JSON to the values json.loads gives (big integers as ints, floats rounded
    alike, the last of duplicate keys in the first one's place) and refuses what json.loads
    takes beyond JSON (NaN, Infinity, 1e400, lone surrogates) and what it words its own way
    (a BOM, bad UTF-8, nesting past its limit): those go to the json module, as all lines did
    before. tests/property/test_json_lines.py holds the two readings to each other.
    """
    global _parsed, _decode
    decode = _decode
    if decode is None:
        _parsed += 1
        if _parsed <= EAGER_LINES:
            return _UNSURE
        import msgspec

        decode = _decode = msgspec.json.Decoder().decode
    try:
        return decode(data)
    except Exception:  # noqa: BLE001 - msgspec.DecodeError, or anything else: json decides
        return _UNSURE


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
