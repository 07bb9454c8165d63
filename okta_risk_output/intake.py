"""Intake: lines -> RiskEvents -> the spool, or the dead-letter file. Never waits on Okta."""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from okta_risk_output.clock import Clock
from okta_risk_output.deadletter import DeadLetterFile
from okta_risk_output.errors import RecordRejected
from okta_risk_output.logs import RejectionLog, log
from okta_risk_output.metrics import Counters
from okta_risk_output.reader import Line, read_lines
from okta_risk_output.records import RecordMapper, is_blank
from okta_risk_output.spool import Spool

__all__ = ["Intake", "LineOutcome", "Source"]

_BLOCK_POLL = 0.5


@dataclass(frozen=True)
class Source:
    name: str
    """As it appears in logs and the dead-letter file: a path, or <stdin>."""
    stream: BinaryIO


class LineOutcome(enum.Enum):
    """What became of one line; a host adapter can acknowledge on any of these."""

    BLANK = "blank"
    DEAD_LETTERED = "dead_lettered"
    SPOOLED = "spooled"
    REFUSED = "refused"
    STOPPED = "stopped"
    """Shutdown came while waiting for room (block policy); the line was not taken."""


class Intake:
    def __init__(
        self,
        *,
        mapper: RecordMapper,
        spool: Spool,
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
        self._block = spool.limits.overflow == "block"

    def read(self, sources: Iterable[Source]) -> None:
        """Take in every line of every source, until they end or a shutdown is asked for."""
        for source in sources:
            for line in read_lines(source.stream, source.name, self._max_line_bytes):
                if self._stop.is_set() or self.accept(line) is LineOutcome.STOPPED:
                    return

    def accept(self, line: Line) -> LineOutcome:
        """One line to its outcome; when this returns, the outcome is durable."""
        if is_blank(line):
            self._counters.add(lines=1, blank=1)
            return LineOutcome.BLANK
        now = self._clock.time()
        try:
            event = self._mapper.to_event(line, now)
        except RecordRejected as exc:
            self._dead_letter.write(
                now=now,
                source=line.source,
                line=line.number,
                kind=exc.kind,
                errors=exc.errors,
                original=line.data,
                original_size=line.size,
            )
            self._counters.add(lines=1, invalid=1)
            self._rejections.rejected(f"{line.source} line {line.number}: {exc}")
            return LineOutcome.DEAD_LETTERED
        if self._block and not self._wait_for_room():
            return LineOutcome.STOPPED
        result = self._spool.put(event, source=line.source, line=line.number, now=now)
        if result.evicted:
            self._counters.add(evicted=result.evicted)
            log.warning(
                "spool full: dropped %d older lower-risk events to make room", result.evicted
            )
        if not result.accepted:
            self._counters.add(lines=1, refused=1)
            log.warning(
                "spool full: %s line %d refused by the %s policy",
                line.source,
                line.number,
                self._spool.limits.overflow,
            )
            return LineOutcome.REFUSED
        self._counters.add(lines=1, spooled=1)
        if self._on_spooled is not None:
            self._on_spooled.set()
        return LineOutcome.SPOOLED

    def close(self) -> None:
        self._rejections.close(self._dead_letter.path)

    def _wait_for_room(self) -> bool:
        """The block policy: hold this line (and so the host) until delivery frees room."""
        waited = False
        while not self._spool.has_room():
            if self._stop.is_set():
                return False
            if not waited:
                log.warning("spool full: intake waits for delivery to make room (block policy)")
                waited = True
            self._clock.sleep(_BLOCK_POLL, self._stop)
        return True
