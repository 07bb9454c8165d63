"""Logging to stderr, one line per message, the level word first (Splunk reads it that way).

stdout is never touched here: it belongs to host protocols.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["RejectionLog", "log", "setup_logging"]

log = logging.getLogger("okta_risk_output")

_LEVEL_WORDS = {"WARNING": "WARN", "CRITICAL": "ERROR"}


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        word = _LEVEL_WORDS.get(record.levelname, record.levelname)
        text = record.getMessage()
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info)
        # A message may quote input or an Okta error body; neither may break the line.
        return f"{word} " + text.replace("\r", "\\r").replace("\n", "\\n")


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


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
