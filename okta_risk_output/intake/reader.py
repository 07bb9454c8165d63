"""Bytes in, numbered lines out: the only place that knows about line endings, BOMs and size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["KEEP_OF_OVERSIZED", "Line", "read_lines"]

_BOM = b"\xef\xbb\xbf"
KEEP_OF_OVERSIZED = 4096
"""How much of an oversized line is kept for the dead-letter file."""
_DISCARD_CHUNK = 1 << 16


@dataclass(frozen=True)
class Line:
    source: str
    number: int
    """1-based physical line number within its source."""
    data: bytes
    """The line without its line ending; only the first KEEP_OF_OVERSIZED bytes if oversized."""
    size: int
    """The full length in bytes, without the line ending."""
    oversized: bool = False


def read_lines(stream: BinaryIO, source: str, max_bytes: int) -> Iterator[Line]:
    """Yield every line of `stream`, never holding more than max_bytes + 1 bytes of one line.

    A UTF-8 byte-order mark before the first line and CRLF endings are dropped here, so
    that nothing downstream has to know about them.
    """
    number = 0
    while True:
        # Room for the content, a CR and the LF, and on the first line a byte-order mark:
        # neither may push a line that is within the limit over it.
        bom = len(_BOM) if number == 0 else 0
        limit = max_bytes + 2 + bom
        raw = stream.readline(limit)
        if not raw:
            return
        number += 1
        if bom and raw.startswith(_BOM):
            raw = raw[bom:]
            limit -= bom
        if raw.endswith(b"\n") or len(raw) < limit:  # a whole line (the last may lack LF)
            data = raw.removesuffix(b"\n").removesuffix(b"\r")
            if len(data) <= max_bytes:
                yield Line(source, number, data, len(data))
            else:
                yield Line(source, number, data[:KEEP_OF_OVERSIZED], len(data), oversized=True)
            continue
        size = len(raw) + _discard_rest_of_line(stream)
        yield Line(source, number, raw[:KEEP_OF_OVERSIZED], size, oversized=True)


def _discard_rest_of_line(stream: BinaryIO) -> int:
    """Skip to the next line, returning how many bytes (without the ending) were skipped."""
    skipped = 0
    while True:
        chunk = stream.readline(_DISCARD_CHUNK)
        if not chunk:
            return skipped
        if chunk.endswith(b"\n"):
            return skipped + len(chunk.rstrip(b"\n").removesuffix(b"\r"))
        skipped += len(chunk)
