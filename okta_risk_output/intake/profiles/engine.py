"""Mapping one foreign record to one flat signal, or to a reason to skip it.

A `Profile` answers, per input line: does it take this line as text (CEF) or as parsed JSON
(`takes_text`), and what does the record become (`map`): a flat signal
{ip, riskLevel, message?, timestamp?, expiresAt?} for records.py to wrap and validate, or a
`Skip(reason)` for a record the profile does not apply to (a Suricata flow event, a private
address). A record that is broken rather than foreign (a CEF line that cannot be parsed)
raises RecordRejected, like every other unusable line, and goes to the dead-letter file.

Mapping never decides validity: a value it cannot read (an address that is not one, a
timestamp in no known format) is passed on unchanged for the schema to judge, with its path.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from okta_risk_output.errors import RecordRejected, SchemaError
from okta_risk_output.intake.profiles.cef import CefError, find_cef_start, parse_cef
from okta_risk_output.intake.profiles.conditions import Condition, Filter
from okta_risk_output.intake.profiles.levels import LevelRule, choose_level
from okta_risk_output.intake.profiles.paths import FieldPath
from okta_risk_output.intake.profiles.sanitise import (
    IPAddress,
    canonical_subject,
    canonical_text,
    parse_ip,
    sanitise_message,
    skip_reason,
)
from okta_risk_output.intake.profiles.templates import Template
from okta_risk_output.intake.profiles.times import Expiry, TimeField
from okta_risk_output.levels import normal_level
from okta_risk_output.timestamps import normalise_timestamp

__all__ = [
    "AutoProfile",
    "DeclaredProfile",
    "Direction",
    "MapSettings",
    "Mapped",
    "Profile",
    "Skip",
]

Direction = Literal["source", "destination"]


@dataclass(frozen=True)
class Skip:
    """The record is not for Okta, by design: counted under `reason`, never dead-lettered."""

    reason: str


Mapped: TypeAlias = dict[str, Any] | Skip
"""A flat signal (or, from `auto`, a RiskEvent passed through unchanged), or a Skip."""


@dataclass(frozen=True)
class MapSettings:
    direction: Direction = "source"
    """Which address of a record is the risky one: its source (default) or its destination."""
    strict: bool = False
    """Leave messages as they are, so the schema rejects what does not fit, rather than
    sanitising them."""
    allow_non_global_ips: bool = False
    """Send private, loopback, link-local, ... addresses instead of skipping them."""


class Profile(ABC):
    """One way of reading foreign records. Immutable; safe to share between threads."""

    name: str
    description: str
    settings: MapSettings

    @abstractmethod
    def takes_text(self, line: str) -> bool:
        """True when `line` must be given to map() as text; False when the caller parses it
        as JSON (dead-lettering what is not JSON, as for plain input) and passes the dict."""

    @abstractmethod
    def map(self, record: Mapping[str, Any] | str, *, now: float | None = None) -> Mapped:
        """The signal for `record`, or Skip. Raises RecordRejected for a broken line.

        `now` (epoch seconds, default the current time) is used only for expiry rules.
        Never raises anything else, whatever the input.

        A flat signal's `ip`, when it is an address, is in canonical text and has passed the
        non-global rule of `settings`: records.py relies on that and does not parse it again.
        """


@dataclass(frozen=True)
class DeclaredProfile(Profile):
    """A profile read from a TOML file (built-in or the user's); see docs/profiles.md."""

    name: str
    description: str
    input: Literal["json", "cef"]
    ip: tuple[FieldPath, ...]
    """Where the address is, for the chosen direction; the first address found wins."""
    risk_level: tuple[LevelRule, ...]
    message: Template | None = None
    timestamp: TimeField | None = None
    expires: Expiry | None = None
    filters: tuple[Filter, ...] = ()
    recognise: tuple[Condition, ...] = ()
    """For `auto`: a record is this profile's when any of these holds."""
    skip_non_address: bool = False
    """Skip ("not_an_address") rather than pass on for rejection a value that is no address:
    for formats whose field may hold a host name (Splunk's src)."""
    settings: MapSettings = field(default_factory=MapSettings)

    def takes_text(self, line: str) -> bool:
        return self.input == "cef"

    def recognises(self, record: Mapping[str, Any]) -> bool:
        return any(condition.holds(record) for condition in self.recognise)

    def map(self, record: Mapping[str, Any] | str, *, now: float | None = None) -> Mapped:
        if isinstance(record, str):
            if self.input == "json":
                record = _parse_json(record)
            else:
                parsed = _parse_cef(record)
                if isinstance(parsed, Skip):
                    return parsed
                record = parsed
        for check in self.filters:
            if not check.condition.holds(record):
                return Skip(check.skip_reason)
        value, address = _address(self.ip, record)
        if value is None:
            return Skip("no_ip")
        if self.skip_non_address and address is None:
            return Skip("not_an_address")
        if address is not None and not self.settings.allow_non_global_ips:
            reason = skip_reason(address)
            if reason:
                return Skip(reason)
        level = choose_level(self.risk_level, record)
        if level is None:
            return Skip("no_risk_level")
        # The canonical text: Suricata writes IPv6 in full (2001:0db8:0000:...), and the same
        # address should read the same wherever it came from.
        ip = value if address is None else canonical_text(address, value)
        signal: dict[str, Any] = {"ip": ip, "riskLevel": level}
        if self.message is not None:
            signal["message"] = self.message.render(record)
        seconds = None
        if self.timestamp is not None:
            stamp, seconds = self.timestamp.read(record)
            if stamp is not None:
                signal["timestamp"] = stamp
        if self.expires is not None:
            when = time.time() if now is None else now
            expires = self.expires.expires_at(record, seconds, when)
            if expires is not None:
                signal["expiresAt"] = expires
        return _finish_message(signal, self.settings)


@dataclass(frozen=True)
class AutoProfile(Profile):
    """Recognises, per line, which of its profiles applies; native signals pass through."""

    text_profile: DeclaredProfile
    """Takes the lines that carry a CEF record."""
    json_profiles: tuple[DeclaredProfile, ...]
    """Tried in order; the first that recognises a record maps it."""
    settings: MapSettings = field(default_factory=MapSettings)
    name: str = "auto"
    description: str = "Recognises each line: CEF, Suricata, Zeek, ECS, Splunk ES, or native."

    def takes_text(self, line: str) -> bool:
        # A JSON object that merely mentions "CEF:" in a string is still JSON.
        return not line.lstrip().startswith("{") and find_cef_start(line) is not None

    def map(self, record: Mapping[str, Any] | str, *, now: float | None = None) -> Mapped:
        if isinstance(record, str):
            if self.takes_text(record):
                return self.text_profile.map(record, now=now)
            record = _parse_json(record)
        if "subjects" in record:
            return self._native_event(record)
        if "ip" in record and "riskLevel" in record:
            return self._native(record)
        for profile in self.json_profiles:
            if profile.recognises(record):
                return profile.map(record, now=now)
        return Skip("unrecognised")

    def _native(self, record: Mapping[str, Any]) -> Mapped:
        """A flat signal already: the same address and message rules as a mapped one, and
        the normalisation records.py gives plain input."""
        skip_non_global = not self.settings.allow_non_global_ips
        signal, reason = canonical_subject(_normalised(record, self.settings), skip_non_global)
        if reason:
            return Skip(reason)
        return _finish_message(signal, self.settings)

    def _native_event(self, record: Mapping[str, Any]) -> Mapped:
        """A RiskEvent: normalised as plain input is; its addresses, and which of its subjects
        to send, are left to the caller (canonical_subjects), as for plain input."""
        event = _normalised(record, self.settings)
        subjects = event["subjects"]
        if isinstance(subjects, list):
            event["subjects"] = [
                _finish_message(_normalised(s, self.settings), self.settings)
                if isinstance(s, Mapping)
                else s
                for s in subjects
            ]
        return event


def _normalised(record: Mapping[str, Any], settings: MapSettings) -> dict[str, Any]:
    """records.py's forgiving steps, unless strict: UTC timestamps, upper-case levels."""
    out = dict(record)
    if settings.strict:
        return out
    for key in ("timestamp", "expiresAt"):
        if key in out:
            out[key] = normalise_timestamp(out[key])
    level = out.get("riskLevel")
    if (normal := normal_level(level)) is not None:
        out["riskLevel"] = normal
    return out


def _address(
    paths: tuple[FieldPath, ...], record: Mapping[str, Any]
) -> tuple[Any, IPAddress | None]:
    """The first value that is an IP address, with the address (parsed once, here); else the
    first present value and None (for the schema to reject with its path); (None, None) when
    no path is present.

    A multivalue field (Splunk's src, an ECS array) counts by its first item.
    """
    present = []
    for path in paths:
        value = path.find(record)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        address = parse_ip(value) if isinstance(value, str) else None
        if address is not None:
            return value, address
        present.append(value)
    return (present[0] if present else None), None


def _finish_message(signal: dict[str, Any], settings: MapSettings) -> dict[str, Any]:
    message = signal.get("message")
    if isinstance(message, str) and not settings.strict:
        message = sanitise_message(message)
        signal["message"] = message
    if message == "":
        del signal["message"]  # an empty template result says nothing; Okta needs no message
    return signal


def _parse_cef(line: str) -> dict[str, Any] | Skip:
    try:
        record = parse_cef(line)
    except CefError as problem:
        raise RecordRejected("bad_cef", [SchemaError("$", str(problem))]) from None
    return Skip("not_cef") if record is None else record


def _parse_json(text: str) -> dict[str, Any]:
    """For callers that hand a JSON profile text; records.py parses JSON itself."""
    try:
        record = json.loads(text)
    except RecursionError:
        raise RecordRejected("too_deep", [SchemaError("$", "JSON nested too deep")]) from None
    except json.JSONDecodeError as problem:
        raise RecordRejected(
            "not_json", [SchemaError("$", f"not JSON: {problem.msg} at column {problem.colno}")]
        ) from None
    except ValueError as problem:  # an integer too long to convert, for one
        raise RecordRejected("not_json", [SchemaError("$", f"not JSON: {problem}")]) from None
    if not isinstance(record, dict):
        raise RecordRejected("not_object", [SchemaError("$", "expected a JSON object")])
    return record
