"""The dead-letter file: one JSON line per record that will not reach Okta, with every reason.

Writing here is a way of accepting a record, so each entry is flushed and fsynced before
the caller counts it. The file never holds credentials: entries are built only from input
lines, events and Okta's error bodies.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from typing import Any

from okta_risk_output.errors import ConfigError, LocalWriteError, SchemaError
from okta_risk_output.intake.reader import KEEP_OF_OVERSIZED
from okta_risk_output.observe.logs import log
from okta_risk_output.timestamps import format_utc

__all__ = ["DeadLetterFile"]


class DeadLetterFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            # Opened at start so that an unwritable path is a configuration error, not a
            # surprise on the first bad line. Unbuffered: a write that fails (a full disk)
            # must not leave bytes in a buffer that a later flush or close fails on again.
            self._file = open(path, "a+b", buffering=0)  # noqa: SIM115 - kept open on purpose
            self._end_last_line()
        except OSError as exc:
            raise ConfigError([f"cannot open the dead-letter file {path}: {exc.strerror}"]) from exc
        self.written = 0

    def _end_last_line(self) -> None:
        """A write cut short (a full disk) may have left half a line: end it, so the next
        entry starts on a line of its own."""
        size = self._file.seek(0, 2)
        if size:
            self._file.seek(size - 1)
            if self._file.read(1) != b"\n":
                self._write_all(b"\n")

    def write(
        self,
        *,
        now: float,
        source: str,
        line: int,
        kind: str,
        errors: list[SchemaError],
        original: bytes | None = None,
        original_size: int | None = None,
        event: dict[str, Any] | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": format_utc(now),
            "source": source,
            "line": line,
            "kind": kind,
            "errors": [e.as_dict() for e in errors],
        }
        if original is not None:
            entry["original"] = original[:KEEP_OF_OVERSIZED].decode("utf-8", "backslashreplace")
            if original_size is not None and original_size > KEEP_OF_OVERSIZED:
                entry["original_truncated"] = True
                entry["original_bytes"] = original_size
        if event is not None:
            entry["event"] = event
        # ASCII escapes: any text (a lone surrogate from a \\ud800 escape included) can
        # be written, and the file stays valid UTF-8 JSON lines.
        data = json.dumps(entry, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            try:
                self._write_all(data)
                os.fsync(self._file.fileno())
            except OSError as exc:
                raise LocalWriteError(
                    f"cannot write the dead-letter file {self.path}: {exc.strerror}"
                ) from exc
            self.written += 1

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)  # a full disk raises; a short write goes on
            if not written:  # a non-blocking file taking nothing; never a regular file
                raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            view = view[written:]

    def close(self) -> None:
        with self._lock:
            try:
                self._file.close()
            except OSError as exc:
                # Nothing is lost: every entry was fsynced before it was counted.
                log.warning("closing the dead-letter file %s: %s", self.path, exc.strerror)
