"""Intake: lines -> RiskEvents -> the spool, or the dead-letter file. Never waits on Okta.

Lines are taken in batches: whatever has arrived by the time the previous batch is
committed goes into the next transaction, so a burst costs one commit per batch, while a
lone line on an idle pipe is committed at once (its batch is just that line).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from okta_risk_output.clock import Clock
from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake.deadletter import DeadLetterFile
from okta_risk_output.intake.reader import Line, read_lines
from okta_risk_output.intake.records import RecordMapper, is_blank
from okta_risk_output.intake.validation import SchemaError
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.logs import RejectionLog, log
from okta_risk_output.spool.store import Store

__all__ = ["Intake", "LineOutcome", "Source"]

_BLOCK_POLL = 0.5
_STOP_POLL = 0.25
MAX_BATCH = 500
"""Most lines per spool transaction; bounds what a kill -9 can catch read but uncommitted."""


@dataclass(frozen=True)
class Source:
    name: str
    """As it appears in logs and the dead-letter file: a path, or <stdin>."""
    stream: BinaryIO


class LineOutcome(enum.Enum):
    """What became of one line; a host adapter can acknowledge on any of these."""

    BLANK = "blank"
    DEAD_LETTERED = "dead_lettered"
    SKIPPED = "skipped"
    SPOOLED = "spooled"
    REFUSED = "refused"
    STOPPED = "stopped"
    """The block policy had no room, and a shutdown came or delivery stopped for good (so
    room never will): the line was not taken."""


class Intake:
    def __init__(
        self,
        *,
        mapper: RecordMapper,
        spool: Store,
        dead_letter: DeadLetterFile,
        counters: Counters,
        clock: Clock,
        stop: threading.Event,
        max_line_bytes: int,
        on_spooled: threading.Event | None = None,
    ) -> None:
        self._mapper = mapper
        self._spool = spool
        self._dead_letter = dead_letter
        self._counters = counters
        self._clock = clock
        self._stop = stop
        self._max_line_bytes = max_line_bytes
        self._on_spooled = on_spooled
        self._rejections = RejectionLog()
        self._block = spool.policy.overflow == "block"
        self._no_room = threading.Event()

    def read(self, sources: Iterable[Source]) -> None:
        """Take in every line of every source, until they end or intake must stop: a
        shutdown is asked for, or (block policy) room for the next line can never come."""
        for source in sources:
            if not self._read_source(source):
                return

    def _read_source(self, source: Source) -> bool:
        """One source to its end (True), or until intake must stop (False)."""
        ahead = _ReadAhead(read_lines(source.stream, source.name, self._max_line_bytes), self._stop)
        stopped = 0
        try:
            for batch in ahead.batches():
                stopped = self.accept_many(batch).count(LineOutcome.STOPPED)
                if stopped or self._stop.is_set():
                    break
        finally:
            not_taken = stopped + ahead.close()
        if not_taken:
            self._report_not_taken(source, not_taken)
        return ahead.ended and not stopped and not self._stop.is_set()

    def no_room_will_come(self) -> None:
        """Delivery has stopped for this process (401, 403, 404...): under the block policy,
        waiting for room would never end, so from now on a line that does not fit is not
        taken (STOPPED) and reading stops."""
        self._no_room.set()

    def _report_not_taken(self, source: Source, count: int) -> None:
        # Read from the input but never accepted: from a pipe, these lines are lost.
        if self._no_room.is_set() and not self._stop.is_set():
            log.error(
                "intake stopped: the spool is full and delivery has stopped, so no room can "
                "come (block policy); %d lines read from %s were not taken, and the rest of "
                "the input was not read",
                count,
                source.name,
            )
        else:
            log.warning("shutting down: %d lines read from %s were not taken", count, source.name)

    def accept(self, line: Line) -> LineOutcome:
        """One line to its outcome; when this returns, the outcome is durable."""
        return self.accept_many([line])[0]

    def accept_many(self, lines: list[Line]) -> list[LineOutcome]:
        """Lines to outcomes, the valid ones stored in one spool transaction."""
        now = self._clock.time()
        outcomes: list[LineOutcome | None] = []
        valid: list[tuple[int, dict[str, Any], Line]] = []
        for line in lines:
            event = self._map(line, now)
            if isinstance(event, LineOutcome):
                outcomes.append(event)
            else:
                valid.append((len(outcomes), event, line))
                outcomes.append(None)
        while valid:
            index, event, line = valid[0]
            if self._block and not self._spool.could_ever_hold(event):
                outcomes[index] = self._count(line, False, 0, 0)  # waiting would never end
                valid = valid[1:]
                continue
            if self._block and not self._wait_for_room(event):
                for index, _, _ in valid:
                    outcomes[index] = LineOutcome.STOPPED
                break
            results = self._spool.put_many(
                [(e, ln.source, ln.number) for _, e, ln in valid], now=now
            )
            for (index, _, line), result in zip(valid, results, strict=False):
                outcomes[index] = self._count(
                    line, result.accepted, result.evicted, result.coalesced
                )
            valid = valid[len(results) :]
        if self._on_spooled is not None and LineOutcome.SPOOLED in outcomes:
            self._on_spooled.set()
        return [o if o is not None else LineOutcome.STOPPED for o in outcomes]

    def close(self) -> None:
        self._rejections.close(self._dead_letter.path)

    def _map(self, line: Line, now: float) -> dict[str, Any] | LineOutcome:
        if is_blank(line):
            self._counters.add(lines=1, blank=1)
            return LineOutcome.BLANK
        try:
            return self._mapper.to_event(line, now)
        except RecordSkipped as skip:
            self._counters.skip(skip.reason)
            log.debug("%s line %d: %s", line.source, line.number, skip)
            return LineOutcome.SKIPPED
        except RecordRejected as exc:
            rejection = exc
        except Exception as exc:  # noqa: BLE001 - a bug must cost one line, not the input
            log.error("%s line %d: unexpected %r; dead-lettered", line.source, line.number, exc)
            rejection = RecordRejected("internal_error", [SchemaError("$", repr(exc)[:300])])
        self._dead_letter.write(
            now=now,
            source=line.source,
            line=line.number,
            kind=rejection.kind,
            errors=rejection.errors,
            original=line.data,
            original_size=line.size,
        )
        self._counters.add(lines=1, invalid=1)
        self._rejections.rejected(f"{line.source} line {line.number}: {rejection}")
        return LineOutcome.DEAD_LETTERED

    def _count(self, line: Line, accepted: bool, evicted: int, coalesced: int) -> LineOutcome:
        if coalesced:
            self._counters.add(coalesced=coalesced)
        if evicted:
            self._counters.add(evicted=evicted)
            log.warning("spool full: dropped %d older lower-risk signals to make room", evicted)
        if not accepted:
            self._counters.add(lines=1, refused=1)
            log.warning(
                "spool full: %s line %d refused by the %s policy",
                line.source,
                line.number,
                self._spool.policy.overflow,
            )
            return LineOutcome.REFUSED
        self._counters.add(lines=1, spooled=1)
        return LineOutcome.SPOOLED

    def _wait_for_room(self, event: dict[str, Any]) -> bool:
        """The block policy: hold these lines (and so the host) until delivery frees room."""
        waited = False
        while not self._spool.has_room(event):
            if self._stop.is_set() or self._no_room.is_set():
                return False
            if not waited:
                log.warning("spool full: intake waits for delivery to make room (block policy)")
                waited = True
            self._clock.sleep(_BLOCK_POLL, self._stop)
        return True


_END = object()


class _ReadFailed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _ReadAhead:
    """Lines read on a helper thread, handed over in batches of what has already arrived.

    The helper may block on a quiet pipe for ever; it is a daemon, so it never holds up
    the exit, and lines it has read but not handed over were never accepted. It holds at
    most _READ_AHEAD_BYTES and _READ_AHEAD_LINES (a short line costs far more memory as an
    object than its bytes) and reads nothing more once a stop is asked for or intake closes
    it: a shutdown that waits for a request must not fill memory from a fast input.
    """

    def __init__(self, lines: Iterator[Line], stop: threading.Event) -> None:
        self.ended = False
        """Whether the source was read to its end and every line handed over."""
        self._stop = stop
        self._shelf = _Shelf(_READ_AHEAD_BYTES, _READ_AHEAD_LINES, stop)
        threading.Thread(target=self._produce, args=(lines,), name="reader", daemon=True).start()

    def _produce(self, lines: Iterator[Line]) -> None:
        shelf = self._shelf
        try:
            if not shelf.wait_for_room():
                return
            for line in lines:
                if not shelf.put(line):
                    return
            shelf.finish(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            shelf.finish(_ReadFailed(exc))

    def batches(self) -> Iterator[list[Line]]:
        while not self._stop.is_set():
            batch, last = self._shelf.take(MAX_BATCH, _STOP_POLL)
            if batch:
                yield batch
            if last is _END:
                self.ended = True
                return
            if isinstance(last, _ReadFailed):
                raise last.error

    def close(self) -> int:
        """Stop the reader; how many lines it read that were never handed over."""
        return self._shelf.halt()


_READ_AHEAD_BYTES = 8 << 20
_READ_AHEAD_LINES = 8 * MAX_BATCH


class _Shelf:
    """The lines the reader holds ahead of intake, within a budget in bytes and in lines (one
    line always fits, however long), and how the source ended once it has.

    One lock taken per line, and a wake-up only for a side that waits: a queue's handoff per
    line cost several times the reading (issue 13), so intake takes a whole batch at once.
    """

    def __init__(self, max_bytes: int, max_lines: int, stop: threading.Event) -> None:
        self._max_bytes = max_bytes
        self._max_lines = max_lines
        self._stop = stop
        self._lines: list[Line] = []
        self._bytes = 0
        self._last: object = None
        """_END or a _ReadFailed, once the reader has finished."""
        self._halted = False
        lock = threading.Lock()
        self._arrived = threading.Condition(lock)
        self._room = threading.Condition(lock)
        self._taker_waits = False
        self._reader_waits = False

    def wait_for_room(self) -> bool:
        """Wait while the reader holds its fill; False once it must read no more."""
        with self._room:
            return self._wait_for_room()

    def put(self, line: Line) -> bool:
        """Hold one more line, then wait for room for the next; False: read no more."""
        with self._room:
            self._lines.append(line)
            self._bytes += len(line.data)
            if self._taker_waits:
                self._arrived.notify()
            return self._wait_for_room()

    def finish(self, last: object) -> None:
        with self._room:
            self._last = last
            self._arrived.notify()

    def _wait_for_room(self) -> bool:
        while self._lines and (
            len(self._lines) >= self._max_lines or self._bytes >= self._max_bytes
        ):
            if self._halted or self._stop.is_set():
                break
            self._reader_waits = True
            self._room.wait(_STOP_POLL)
            self._reader_waits = False
        return not (self._halted or self._stop.is_set())

    def take(self, most: int, timeout: float) -> tuple[list[Line], object]:
        """Up to `most` of the lines held, oldest first, waiting up to `timeout` for one; and
        how the source ended once nothing is left of it (else None)."""
        with self._arrived:
            if not self._lines and self._last is None:
                self._taker_waits = True
                self._arrived.wait(timeout)
                self._taker_waits = False
            if len(self._lines) <= most:
                batch, self._lines = self._lines, []
            else:
                batch = self._lines[:most]
                del self._lines[:most]
            self._bytes -= sum(len(line.data) for line in batch)
            if batch and self._reader_waits:
                self._room.notify()
            return batch, (None if self._lines else self._last)

    def halt(self) -> int:
        """No more reads; the lines still held."""
        with self._room:
            self._halted = True
            self._room.notify_all()
            return len(self._lines)
