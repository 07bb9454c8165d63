"""Logging to stderr, one line per message, the level word first (Splunk reads it that way).

`--log-format json` writes one JSON object per line instead ({"time", "level", "message",
"logger"}), for collectors that parse JSON better than key=value text. stdout is never
touched here: it belongs to host protocols.

A live status line on a terminal (progress.py) is wiped before a log line is written and
drawn again after it, so the two never share a line.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol, TextIO

from okta_risk_output.timestamps import format_utc

__all__ = ["LOG_FORMATS", "RejectionLog", "StatusOverlay", "log", "set_overlay", "setup_logging"]

log = logging.getLogger("okta_risk_output")


class _Utf8Only(logging.Filter):
    """Quote input's lone surrogates (a JSON key "\\ud800" decodes to one) as `\\ud800`.

    Such a string cannot be encoded as UTF-8: a handler writing it would fail, and so would
    any collector of the records (pytest-xdist sends captured logs between processes).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
            text.encode("utf-8")
        except UnicodeEncodeError:
            record.msg = text.encode("utf-8", "backslashreplace").decode("utf-8")
            record.args = None
        except Exception:  # noqa: BLE001, S110 - a bad format string: the handler reports it
            pass
        return True


log.addFilter(_Utf8Only())

LOG_FORMATS = ("text", "json")

_LEVEL_WORDS = {"WARNING": "WARN", "CRITICAL": "ERROR"}


def _level_word(record: logging.LogRecord) -> str:
    return _LEVEL_WORDS.get(record.levelname, record.levelname)


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info)
        # A message may quote input or an Okta error body; neither may break the line.
        return f"{_level_word(record)} " + text.replace("\r", "\\r").replace("\n", "\\n")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": format_utc(record.created),
            "level": _level_word(record),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes control characters, so an entry is always exactly one line;
        # ASCII-only so a stderr with a narrow encoding cannot fail on it.
        return json.dumps(entry, separators=(",", ":"))


class StatusOverlay(Protocol):
    """A live line on the terminal that log lines must not overwrite (progress.LiveStatus)."""

    def suspended(self) -> AbstractContextManager[None]:
        """Wipe the line for the duration of the block, then draw it again."""
        ...


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that steps around a live status line, when one is shown."""

    overlay: StatusOverlay | None = None

    def emit(self, record: logging.LogRecord) -> None:
        overlay = self.overlay
        with overlay.suspended() if overlay is not None else nullcontext():
            super().emit(record)


def setup_logging(level: str = "INFO", stream: TextIO | None = None, fmt: str = "text") -> None:
    """Send the project's log to `stream` (stderr), one line per message, as text or JSON."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _OneLineFormatter())
    # Called again once the settings are known: a live line set up meanwhile stays respected.
    handler.overlay = _current_overlay()
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def set_overlay(overlay: StatusOverlay | None) -> None:
    """Make log lines step around `overlay` (None: stop doing so)."""
    for handler in log.handlers:
        if isinstance(handler, _Handler):
            handler.overlay = overlay


def _current_overlay() -> StatusOverlay | None:
    return next((h.overlay for h in log.handlers if isinstance(h, _Handler)), None)


class RejectionLog:
    """One WARN line per rejected line up to a cap, then one saying how many were not shown."""

    def __init__(self, cap: int = 20) -> None:
        self.cap = cap
        self.seen = 0

    def rejected(self, message: str) -> None:
        self.seen += 1
        if self.seen <= self.cap:
            log.warning("%s", message)
        if self.seen == self.cap + 1:
            log.warning("more rejected lines follow; not logging each (see the dead-letter file)")

    def close(self, dead_letter_path: str) -> None:
        if self.seen > self.cap:
            log.warning(
                "%d rejected lines were not logged one by one; all are in %s",
                self.seen - self.cap,
                dead_letter_path,
            )
