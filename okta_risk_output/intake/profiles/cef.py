"""ArcSight Common Event Format: one text line to a record the profile engine can read.

    [syslog header ]CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension

The escaping rules of the CEF specification are honoured:

- header fields: `\\|` is a pipe and `\\\\` a backslash; an unescaped pipe separates fields.
- extension: `key=value` pairs separated by spaces; values may contain spaces; `\\=` is an
  equals sign, `\\\\` a backslash, `\\n` and `\\r` are line breaks. A pipe needs no escape
  there, but `\\|` is read as one too, since producers write it.

A key starts after a space and ends at an unescaped `=`, so an unescaped `=` inside a value
(`url=http://x/?a=b`, a common producer mistake) stays in the value unless a space precedes
its "key". The record is

    {"version": "0", "deviceVendor": ..., "deviceProduct": ..., "deviceVersion": ...,
     "deviceEventClassId": ..., "name": ..., "severity": ...,
     "extension": {"src": ..., ...}, "syslog": {"priority": 134, "timestamp": ..., "host": ...}}

with `syslog` present only when the line had a header before `CEF:`.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["HEADER_FIELDS", "CefError", "find_cef_start", "parse_cef"]

HEADER_FIELDS = (
    "version",
    "deviceVendor",
    "deviceProduct",
    "deviceVersion",
    "deviceEventClassId",
    "name",
    "severity",
)

# "CEF:" at the start of the line or after a space or the '>' of a syslog priority.
_CEF_START = re.compile(r"(?<![^\s>])CEF:")
_VERSION = re.compile(r"\d+")
# A key is a run of key characters after a space (or at the start) and before '='. Key
# characters exclude '\', so the '=' found here is never an escaped one.
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\-\[\]]+)=")
_VALUE_ESCAPES = {"=": "=", "\\": "\\", "n": "\n", "r": "\r", "|": "|"}
_HEADER_ESCAPES = {"|": "|", "\\": "\\"}

_PRIORITY = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(r"\d{1,2} (\S+) (\S+)")
_BSD_TIME = re.compile(r"([A-Z][a-z]{2} +\d{1,2}(?: \d{4})? \d{2}:\d{2}:\d{2}) (\S+)")
_ISO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\S+) (\S+)")


class CefError(ValueError):
    """The line has a CEF marker but is not a CEF record; the message says why."""


def find_cef_start(line: str) -> int | None:
    """Where 'CEF:' starts in `line`, or None when the line carries no CEF record."""
    match = _CEF_START.search(line)
    return match.start() if match else None


def parse_cef(line: str) -> dict[str, Any] | None:
    """The CEF record in `line`, None when it has none; CefError when it is malformed."""
    start = find_cef_start(line)
    if start is None:
        return None
    fields, extension = _split_header(line[start + len("CEF:") :])
    if not _VERSION.fullmatch(fields[0]):
        raise CefError(f"CEF version {fields[0]!r} is not a number")
    record: dict[str, Any] = dict(zip(HEADER_FIELDS, fields, strict=True))
    record["extension"] = _parse_extension(extension)
    prefix = line[:start].strip()
    if prefix:
        record["syslog"] = _parse_syslog(prefix)
    return record


def _split_header(text: str) -> tuple[list[str], str]:
    """The 7 header fields, unescaped, and the raw extension after them."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text) and len(fields) < len(HEADER_FIELDS):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _HEADER_ESCAPES:
            current.append(_HEADER_ESCAPES[text[i + 1]])
            i += 2
            continue
        if c == "|":
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    if len(fields) < len(HEADER_FIELDS):
        if len(fields) == len(HEADER_FIELDS) - 1:
            # No pipe after Severity: a record without extension, which producers do write.
            fields.append("".join(current).strip())
            return fields, ""
        raise CefError(
            f"a CEF header has {len(HEADER_FIELDS)} fields separated by '|'; "
            f"this one has {len(fields) + 1}"
        )
    return fields, text[i:]


def _parse_extension(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    keys = list(_KEY.finditer(text))
    for n, match in enumerate(keys):
        end = keys[n + 1].start() if n + 1 < len(keys) else len(text)
        pairs[match.group(1)] = _unescape_value(text[match.end() : end].strip())
    return pairs


def _unescape_value(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _VALUE_ESCAPES:
            out.append(_VALUE_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_syslog(prefix: str) -> dict[str, Any]:
    """Best effort over RFC 3164 and RFC 5424 headers; what is not recognised is left out."""
    header: dict[str, Any] = {"header": prefix}
    rest = prefix
    priority = _PRIORITY.match(rest)
    if priority:
        header["priority"] = int(priority.group(1))
        rest = rest[priority.end() :]
    for pattern in (_RFC5424, _ISO_TIME, _BSD_TIME):
        match = pattern.match(rest)
        if match:
            timestamp, host = match.groups()
            if timestamp != "-":
                header["timestamp"] = timestamp
            if host != "-":
                header["host"] = host
            break
    return header
