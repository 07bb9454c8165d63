"""Wires intake and delivery. Intake runs on a thread, delivery on the caller's thread.

intake:   lines -> RecordMapper -> dead-letter file | backlog
delivery: backlog -> Deliverer (pacing, retries, bisection) -> delivered | dead-letter

The process environment is injected (streams, clock, stop event), so tests run this
in-process; only cli.py touches sys.stdin, signals and exit codes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from okta_risk_output.auth import SswsAuth
from okta_risk_output.batching import Backlog, Pending
from okta_risk_output.clock import Clock
from okta_risk_output.config import Settings
from okta_risk_output.deadletter import DeadLetterFile
from okta_risk_output.delivery import Deliverer, Undelivered
from okta_risk_output.errors import ExitStatus, RecordRejected
from okta_risk_output.logs import RejectionLog, log
from okta_risk_output.metrics import Counters
from okta_risk_output.okta import OktaClient
from okta_risk_output.ratelimit import RateLimiter
from okta_risk_output.reader import Line, read_lines
from okta_risk_output.records import RecordMapper, is_blank
from okta_risk_output.validation import SchemaError

__all__ = ["Shipper", "Source"]

_INTAKE_JOIN_TIMEOUT = 2.0


@dataclass(frozen=True)
class Source:
    name: str
    """As it appears in logs and the dead-letter file: a path, or <stdin>."""
    stream: BinaryIO


class Shipper:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        stop: threading.Event | None = None,
        client: OktaClient | None = None,
    ) -> None:
        self.settings = settings
        self.counters = Counters()
        self._clock = clock
        self._stop = stop or threading.Event()
        self._dead_letter = DeadLetterFile(settings.dead_letter)
        self._client = client or OktaClient(
            settings.org_url, SswsAuth(settings.api_token), timeout=settings.timeout
        )
        self._backlog = Backlog(clock)
        self._mapper = RecordMapper(
            strict=settings.strict,
            default_expires_in=settings.default_expires_in,
            max_line_bytes=settings.max_line_bytes,
        )
        self._rejections = RejectionLog()
        self._intake_error: BaseException | None = None
        self._delivery_ended = threading.Event()
        self._end_reason = "not delivered: shut down first"
        self._deliverer = Deliverer(
            self._client,
            RateLimiter(settings.rate, clock),
            settings.retry,
            self.counters,
            self._dead_letter,
            clock,
            self._stop,
        )

    def run(self, sources: Iterable[Source]) -> ExitStatus:
        """Read every source, deliver what is valid; return the exit status."""
        started = self._clock.monotonic()
        intake = threading.Thread(target=self._intake, args=(list(sources),), daemon=True)
        intake.start()
        status = ExitStatus.OK
        try:
            status = self._deliver_until_done()
        finally:
            # From here intake may no longer add to the backlog, and whatever still waits in
            # it is dead-lettered: each event goes exactly one way.
            self._delivery_ended.set()
            self._give_up(self._backlog.halt(), self._end_reason)
            intake.join(_INTAKE_JOIN_TIMEOUT)
            self._rejections.close(self._dead_letter.path)
            self._dead_letter.close()
            self._client.close()
            log.info("%s", self.counters.summary(self._clock.monotonic() - started))
        if self._intake_error is not None:
            raise self._intake_error
        return status

    def _deliver_until_done(self) -> ExitStatus:
        settings = self.settings
        while True:
            batch = self._backlog.take(settings.max_events_per_request, settings.linger, self._stop)
            if not batch:
                if self._stop.is_set() and self._intake_error is None:
                    log.info("shutting down on request; undelivered events are dead-lettered")
                return ExitStatus.OK
            try:
                self._deliverer.deliver(batch)
            except Undelivered as exc:
                if exc.exit_status is None:  # given up or shut down: carry on with the next
                    self._give_up(exc.events, exc.reason)
                    continue
                log.error("delivery stopped: %s", exc.reason)
                self._end_reason = f"delivery stopped: {exc.reason}"
                self._give_up(exc.events, self._end_reason, brief="delivery stopped")
                return exc.exit_status

    def _give_up(self, events: list[Pending], reason: str, brief: str | None = None) -> None:
        """Dead-letter events that will not be sent; `reason` goes with each, `brief` to the log."""
        for pending in events:
            self._dead_letter.write(
                now=self._clock.time(),
                source=pending.source,
                line=pending.line,
                kind="undelivered",
                errors=[SchemaError("$", reason)],
                event=pending.event,
            )
        if events:
            self.counters.add(undelivered=len(events))
            log.warning(
                "%d events not delivered (%s); they are in %s",
                len(events),
                brief or reason,
                self._dead_letter.path,
            )

    def _intake(self, sources: list[Source]) -> None:
        try:
            for source in sources:
                for line in read_lines(source.stream, source.name, self.settings.max_line_bytes):
                    if self._stop.is_set() or self._delivery_ended.is_set():
                        return
                    self._accept(line)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, re-raised there
            self._intake_error = exc
            self._stop.set()
        finally:
            self._backlog.end_of_input()

    def _accept(self, line: Line) -> None:
        if is_blank(line):
            self.counters.add(lines=1, blank=1)
            return
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
            self.counters.add(lines=1, invalid=1)
            self._rejections.rejected(f"{line.source} line {line.number}: {exc}")
            return
        self.counters.add(lines=1, valid=1)
        pending = Pending(event, line.source, line.number, self._clock.monotonic())
        if not self._backlog.put(pending):
            self._give_up([pending], self._end_reason)
