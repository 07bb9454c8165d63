"""Telling an operator how a run is going.

- ProgressLine: during long runs, one INFO line every --stats-interval (60 s): what was
  accepted and delivered, the backlog by risk level, when the next request may go, and
  what is left of Okta's rate budget. It goes wherever logs go, terminal or not.
- LiveStatus: on a terminal only, a line redrawn in place (`\\r`) with a progress bar for
  reading input files and the live backlog of delivery. When stderr is not a terminal
  (a host, a pipe, a log file) it writes nothing at all: hosts parse stderr line by line.
- IntakeMeter: counts the bytes read from input files, for the bar.

Everything reads live values through callables, so this module holds no counts of its own
and can never disagree with the summary line or `status`.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, Generic, TextIO, TypeVar

from okta_risk_output.levels import RISK_LEVELS
from okta_risk_output.observe.logs import log
from okta_risk_output.units import format_size

__all__ = [
    "IntakeMeter",
    "LiveStatus",
    "ProgressLine",
    "Sampled",
    "backlog_text",
    "inputs_are_files",
    "intake_text",
    "is_terminal",
]

CountersSnapshot = Callable[[], Mapping[str, int]]
SpoolStatus = Callable[[], Mapping[str, Any]]
Budget = Callable[[], Mapping[str, float] | None]
NextSend = Callable[[], float | None]
"""Seconds until the next request may go; None when nothing is waiting to be sent."""


def _none() -> None:
    return None


def is_terminal(stream: Any) -> bool:
    """Whether `stream` is a terminal a person watches (never raises)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or closed
        return False


def inputs_are_files(files: Sequence[str]) -> bool:
    """Whether the inputs are regular files, whose size is known: not stdin (`-` or none
    given), a pipe or a FIFO. Only then does a progress bar mean something."""
    return bool(files) and all(name != "-" and os.path.isfile(name) for name in files)


# -- the periodic INFO line ----------------------------------------------------------------


class ProgressLine:
    """Logs one progress line per `interval` seconds of `monotonic` time when ticked.

    The delivery loop calls tick() on every pass; the first line comes one interval after
    the start, so short runs log only their summary. An interval of 0 switches it off.
    """

    def __init__(
        self,
        *,
        counters_snapshot: CountersSnapshot,
        spool_status: SpoolStatus,
        monotonic: Callable[[], float],
        interval: float = 60.0,
        budget: Budget = _none,
        next_send: NextSend = _none,
    ) -> None:
        self._counters = counters_snapshot
        self._spool = spool_status
        self._budget = budget
        self._next_send = next_send
        self._monotonic = monotonic
        self._interval = interval
        self._due = monotonic() + interval

    def tick(self) -> bool:
        """Log the line when it is due; True when it did."""
        if self._interval <= 0:
            return False
        now = self._monotonic()
        if now < self._due:
            return False
        # The next line is due an interval after this one, however late this one was.
        self._due = now + self._interval
        try:
            text = self.text()
        except Exception as exc:  # noqa: BLE001 - progress must never stop delivery
            log.debug("progress line failed: %r", exc)
            return False
        log.info("%s", text)
        return True

    def text(self) -> str:
        c = self._counters()
        s = self._spool()
        levels = s["by_risk_level"]
        by_level = " ".join(f"{level}={levels.get(level, 0)}" for level in RISK_LEVELS)
        age = s.get("oldest_age_seconds")
        return (
            f"progress lines={c['lines']} accepted={c['spooled']} invalid={c['invalid']} "
            f"skipped={c['skipped']} delivered={c['delivered']} "
            f"backlog={s['signals']} ({by_level}) "
            f"oldest={'-' if age is None else _duration(age)} "
            f"next_send={_next_send_word(self._next_send())} "
            f"budget={_budget_word(self._budget())}"
        )


def _next_send_word(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "now" if seconds <= 0 else _duration(seconds)


def _budget_word(budget: Mapping[str, float] | None) -> str:
    if budget is None:
        return "-"
    return (
        f"{int(budget['remaining'])}/{int(budget['limit'])} "
        f"reset_in={_duration(budget['reset_in'])}"
    )


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


# -- costly sources, asked seldom ----------------------------------------------------------

T = TypeVar("T")


_LONGEST = 30.0
"""Seconds a sample may be kept, however slow the last one was to take."""


class Sampled(Generic[T]):
    """`fetch()`, called at most every `every` seconds and for at most `share` of the time;
    in between, the last value.

    Spool.status() counts the whole table under the spool's lock: about 0.25 s at a
    million signals, time intake and delivery wait. A live line redrawn twice a second
    must not ask that often, so the pause after a call grows with what the call cost.
    """

    def __init__(
        self,
        fetch: Callable[[], T],
        monotonic: Callable[[], float],
        *,
        every: float = 1.0,
        share: float = 0.05,
    ) -> None:
        self._fetch = fetch
        self._monotonic = monotonic
        self._every = every
        self._share = share
        self._due = float("-inf")
        self._cached: tuple[T] | None = None
        """The last value, boxed: T itself may be None."""
        self._lock = threading.Lock()

    def __call__(self) -> T:
        with self._lock:
            started = self._monotonic()
            if self._cached is None or started >= self._due:
                self._cached = (self._fetch(),)
                ended = self._monotonic()
                # A slow answer (the spool's lock held by a long fold) stretches the wait,
                # but never past _LONGEST: the figures stay at most that old.
                stretch = min((ended - started) / self._share, _LONGEST)
                self._due = ended + max(self._every, stretch)
            return self._cached[0]

    def expire(self) -> None:
        """Fetch afresh on the next call (the final state of a run must be exact)."""
        with self._lock:
            self._due = float("-inf")


# -- bytes read from input files -----------------------------------------------------------


class IntakeMeter:
    """Bytes read so far from the input files, out of their total size."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._read = 0
        self._lock = threading.Lock()

    @classmethod
    def for_files(cls, files: Sequence[str]) -> IntakeMeter:
        return cls(sum(os.path.getsize(name) for name in files))

    @property
    def read(self) -> int:
        with self._lock:
            return self._read

    def add(self, count: int) -> None:
        with self._lock:
            self._read += count

    def wrap(self, stream: BinaryIO) -> BinaryIO:
        """`stream`, counting what is read from it into this meter.

        Counted where the buffer refills (64 KiB at a time), not per line: cheap, and as
        fine-grained as a bar needs. The reader only ever calls readline().
        """
        return io.BufferedReader(_CountingRaw(stream, self), buffer_size=1 << 16)


class _CountingRaw(io.RawIOBase):
    def __init__(self, inner: BinaryIO, meter: IntakeMeter) -> None:
        self._inner = inner
        self._meter = meter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        self._meter.add(len(data))
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


# -- the live terminal line ----------------------------------------------------------------


def intake_text(meter: IntakeMeter, width: int = 20) -> str:
    """`reading [#####.......]  45% 12.3 MiB of 27.1 MiB`, or `read 27.1 MiB` when done."""
    total, done = meter.total, min(meter.read, meter.total)
    if total and done >= total:
        return f"read {format_size(total)}"
    fraction = done / total if total else 0.0
    filled = int(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    return f"reading [{bar}] {fraction:4.0%} {format_size(done)} of {format_size(total)}"


def backlog_text(
    counts: Mapping[str, int], status: Mapping[str, Any], next_send: float | None
) -> str:
    """`delivered 560, waiting 340 (HIGH 20, MEDIUM 100, LOW 220), next send in 1.2s`."""
    levels = status["by_risk_level"]
    by_level = ", ".join(f"{level} {levels.get(level, 0)}" for level in RISK_LEVELS)
    if next_send is None:
        when = "nothing to send"
    elif next_send <= 0:
        when = "sending"
    else:
        when = f"next send in {_duration(next_send)}"
    return f"delivered {counts['delivered']}, waiting {status['signals']} ({by_level}), {when}"


class LiveStatus:
    """One line on a terminal, redrawn in place from `parts` (joined by ` | `).

    Inert unless `stream` is a terminal: it then writes nothing, ever. Redrawn by
    render_once() (tests) or a daemon thread every `refresh` seconds (start/stop). It is
    padded with spaces rather than cleared with escape codes, so even a dumb terminal shows
    it right, and cut to the terminal's width, since a wrapped line cannot be redrawn.
    Log lines step around it (logs.set_overlay): the line is wiped, the log line written,
    the line drawn again.
    """

    def __init__(
        self,
        stream: TextIO,
        parts: Sequence[Callable[[], str]],
        *,
        refresh: float = 0.5,
        columns: Callable[[], int] | None = None,
    ) -> None:
        self._stream = stream
        self._parts = list(parts)
        self._refresh = refresh
        self._columns = columns or _terminal_columns
        self.enabled = is_terminal(stream)
        self._lock = threading.RLock()
        self._shown = 0
        """Characters of the line now on screen (0: none)."""
        self._text = ""
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def render_once(self) -> None:
        if not self.enabled:
            return
        texts = []
        for part in self._parts:
            try:
                texts.append(part())
            except Exception as exc:  # noqa: BLE001 - e.g. the spool closed at the end of a run
                log.debug("live status part failed: %r", exc)
        if texts:
            width = max(10, self._columns() - 1)
            with self._lock:
                self._text = " | ".join(texts)[:width]
                self._draw()

    def start(self) -> None:
        """Draw now, then every `refresh` seconds on a daemon thread until stop()."""
        if not self.enabled or self._thread is not None:
            return
        self.render_once()
        self._thread = threading.Thread(target=self._loop, name="live-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Draw the final state and end the line, so it stays on screen above what follows."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(self._refresh + 1.0)
            self._thread = None
        if not self.enabled:
            return
        self.render_once()
        with self._lock:
            if self._shown:
                self._stream.write("\n")
                self._stream.flush()
                self._shown = 0

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Wipe the line while the block writes to the same terminal, then redraw it."""
        with self._lock:
            if not self._shown:
                yield
                return
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0
            try:
                yield
            finally:
                self._draw()

    def _draw(self) -> None:
        text = self._text
        self._stream.write("\r" + text.ljust(self._shown))
        self._stream.flush()
        self._shown = len(text)

    def _loop(self) -> None:
        while not self._done.wait(self._refresh):
            self.render_once()


def _terminal_columns() -> int:
    """The terminal's width, as shutil.get_terminal_size reads it ($COLUMNS first, then the
    terminal, else 80), without importing shutil (and bz2, lzma with it) at every start."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (ValueError, OSError):
            columns = 0
    return columns or 80
