"""Wires intake and delivery around the spool, for the three ways of running:

    run      intake on a thread, delivery here; ends when input has ended and nothing
             deliverable is left (or --eof-timeout passed)
    enqueue  intake only, for short-lived hosts
    drain    delivery only: until the spool is empty, for a while, or for ever

The process environment is injected (streams, clock, stop event), so tests run this
in-process; only cli/ touches sys.stdin, signals and exit codes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from okta_risk_output.clock import Clock
from okta_risk_output.config.settings import Settings, record_mapper
from okta_risk_output.errors import ExitStatus
from okta_risk_output.intake.deadletter import DeadLetterFile
from okta_risk_output.intake.loop import Intake, Source
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.logs import log
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.store import Store

if TYPE_CHECKING:
    # Delivery (requests, the client, the loop) is imported when a run first delivers:
    # `enqueue`, which only spools, never loads an HTTP library.
    import requests

    from okta_risk_output.delivery.deliverer import Deliverer
    from okta_risk_output.okta.client import ApiClient

__all__ = ["Shipper", "Source", "Ticker"]


class Ticker(Protocol):
    def tick(self) -> object: ...


_NAP = 0.25
"""Longest blind wait of the delivery loop: how soon a shutdown or new input is noticed."""
_IDLE_POLL = 1.0
_INTAKE_JOIN = 10.0
"""How often an idle drain looks for events that other processes spooled."""


class Shipper:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        stop: threading.Event | None = None,
        client: ApiClient | None = None,
    ) -> None:
        self.settings = settings
        self.counters = Counters()
        self._clock = clock
        self._stop = stop or threading.Event()
        self.shutdown = threading.Event()
        """Set when the run must end as on SIGTERM (a hard deadline passed): whoever runs it
        may abandon a request still in flight after --shutdown-timeout."""
        self._wake = threading.Event()
        self._input_ended = threading.Event()
        """Set by the intake or feed thread when its input has ended, before it wakes the
        delivery loop: the loop asks this, not whether the thread is alive, since a thread
        that has woken the loop may still be alive when the loop looks, and the loop would
        then nap a whole _NAP before it noticed (a quarter second of every short run)."""
        self._started = clock.monotonic()
        self._intake_error: BaseException | None = None
        self._dead_letter = DeadLetterFile(settings.dead_letter)
        self.spool: Store = Spool(
            settings.spool,
            policy=settings.spool_policy,
            sync=settings.spool_sync,
            # Intake appends; repeats merge when delivery folds them (spool/sqlite_fold.py).
            on_coalesced=lambda merged: self.counters.add(coalesced=merged),
        )
        """The spool, as intake, delivery and `status` use it (SQLite: the one backend so far)."""
        self._client = client
        self._deliverer: Deliverer | None = None
        self.tickers: list[Ticker] = []
        """Called on every pass of a delivery loop (progress line, metrics file)."""
        self.on_request: Callable[[str, float], None] | None = None
        """Told each request's outcome and duration (telemetry.observe_request)."""
        self._next_send_at: float | None = None
        self._intake = Intake(
            mapper=record_mapper(settings),
            spool=self.spool,
            dead_letter=self._dead_letter,
            counters=self.counters,
            clock=clock,
            stop=self._stop,
            max_line_bytes=settings.max_line_bytes,
            on_spooled=self._wake,
        )

    # -- the three modes -----------------------------------------------------------------

    def run(self, sources: Iterable[Source]) -> ExitStatus:
        """Intake and delivery in one process."""
        deliverer = self._delivery()
        intake = threading.Thread(target=self._read, args=(list(sources),), daemon=True)
        intake.start()
        ended_at: float | None = None
        while not self._stop.is_set():
            if ended_at is None and self._input_ended.is_set():
                ended_at = self._clock.monotonic()
            ended = ended_at is not None
            wait = self._step(deliverer, input_ended=ended)
            if ended and (wait is None or deliverer.stopped is not None):
                break
            if ended_at is not None and self._eof_timeout_passed(ended_at):
                log.info(
                    "input ended %gs ago (--eof-timeout): %d events remain in %s; "
                    "deliver them with: okta-risk-output drain --spool %s",
                    self.settings.eof_timeout or 0,
                    self.spool.live(),
                    self.spool.path,
                    self.spool.path,
                )
                break
            self._nap(_NAP if wait is None else wait)
        # Intake notices the stop within a nap; its counts must be final before the summary.
        intake.join(_INTAKE_JOIN)
        if intake.is_alive():
            log.warning("intake did not stop within %gs; the summary may miss a line", _INTAKE_JOIN)
        if self._intake_error is not None:
            raise self._intake_error
        return self._status(deliverer)

    def enqueue(self, sources: Iterable[Source]) -> ExitStatus:
        """Intake only: validate, spool or dead-letter, and return."""
        self._read(list(sources))
        if self._intake_error is not None:
            raise self._intake_error
        return ExitStatus.OK

    def drain(self, *, until_empty: bool = True, duration: float | None = None) -> ExitStatus:
        """Delivery only: until nothing is left (until_empty), for `duration`, or for ever."""
        deliverer = self._delivery()
        deadline = None if duration is None else self._clock.monotonic() + duration
        while not self._stop.is_set():
            wait = deliverer.step(input_ended=until_empty)
            self._tick(wait)
            if deliverer.stopped is not None or (wait is None and until_empty):
                break
            if deadline is not None and self._clock.monotonic() >= deadline:
                break
            self._nap(_IDLE_POLL if wait is None else wait, cap=_IDLE_POLL)
        return self._status(deliverer)

    # -- reporting and closing -----------------------------------------------------------

    def summary(self) -> str:
        left = self.spool.live()
        return self.counters.summary(self._clock.monotonic() - self._started, left)

    def next_send(self) -> float | None:
        """Seconds until delivery means to send again (0: now); None when nothing waits."""
        if self._next_send_at is None:
            return None
        return max(0.0, self._next_send_at - self._clock.monotonic())

    def budget(self) -> dict[str, float] | None:
        return None if self._deliverer is None else self._deliverer.budget()

    def _step(self, deliverer: Deliverer, *, input_ended: bool) -> float | None:
        """One delivery step while intake runs beside it."""
        wait = deliverer.step(input_ended=input_ended)
        if deliverer.stopped is not None:
            # Room in a full spool can come only from this delivery: intake must not wait
            # for it (the block policy) until its input ends, which may be never.
            self._intake.no_room_will_come()
        self._tick(wait)
        return wait

    def _tick(self, wait: float | None) -> None:
        self._next_send_at = None if wait is None else self._clock.monotonic() + wait
        for ticker in self.tickers:
            ticker.tick()

    def close(self) -> None:
        self._dead_letter.close()
        self.spool.close()
        if self._client is not None:
            self._client.close()

    # -- helpers -------------------------------------------------------------------------

    def _delivery(self) -> Deliverer:
        if self._deliverer is None:
            from okta_risk_output.delivery.deliverer import Deliverer
            from okta_risk_output.delivery.ratelimit import RateLimiter
            from okta_risk_output.delivery.risk_events import RiskEventsSink
            from okta_risk_output.okta.auth import OAuthAuth, OktaAuth, SswsAuth
            from okta_risk_output.okta.client import OktaClient

            settings = self.settings
            if self._client is None:
                auth: OktaAuth = SswsAuth(settings.api_token)
                if settings.oauth is not None:
                    from okta_risk_output.okta.oauth import TokenClient  # PyJWT only when needed

                    tokens = TokenClient(settings.oauth, clock=self._clock, session=self._session())
                    auth = OAuthAuth(tokens)
                self._client = OktaClient(
                    settings.org_url, auth, timeout=settings.timeout, session=self._session()
                )
            # The risk-events endpoint is the one output so far (delivery/sink.py).
            sink = RiskEventsSink(
                client=self._client,
                packing=settings.packing,
                clock=self._clock,
                reset_wait_max=settings.retry.reset_wait_max,
            )
            self._deliverer = Deliverer(
                sink=sink,
                spool=self.spool,
                limiter=RateLimiter(settings.rate, self._clock),
                policy=settings.retry,
                dead_letter=self._dead_letter,
                counters=self.counters,
                clock=self._clock,
                stop=self._stop,
                linger=settings.linger,
                # A lease covers one request (and the halves of a rejected one); past this,
                # another process may take the events over.
                lease_seconds=2 * settings.timeout + 30,
                on_request=self._report_request,
            )
        return self._deliverer

    def _report_request(self, outcome: str, seconds: float) -> None:
        if self.on_request is not None:
            self.on_request(outcome, seconds)

    def _session(self) -> requests.Session:
        """The one kind of HTTP session (okta.session): our User-Agent, the deadline watch,
        TLS verified against --ca-bundle when given."""
        from okta_risk_output.okta.session import new_session

        return new_session(ca_bundle=self.settings.ca_bundle)

    def _read(self, sources: list[Source]) -> None:
        try:
            self._intake.read(sources)
        except BaseException as exc:  # noqa: BLE001 - handed to the delivery thread, re-raised
            self._intake_error = exc
            self._stop.set()
        finally:
            self._intake.close()
            self._input_ended.set()
            self._wake.set()

    def _nap(self, seconds: float, cap: float = _NAP) -> None:
        self._clock.sleep(min(max(seconds, 0.0), cap), self._wake)
        self._wake.clear()

    def _eof_timeout_passed(self, ended_at: float) -> bool:
        limit = self.settings.eof_timeout
        return limit is not None and self._clock.monotonic() - ended_at >= limit

    @staticmethod
    def _status(deliverer: Deliverer) -> ExitStatus:
        stopped = deliverer.stopped
        if stopped is not None and stopped.exit_status is not None:
            return stopped.exit_status
        return ExitStatus.OK

    # -- host adapters (issue 6) -----------------------------------------------------------
    # Added beside the three modes, changing none of them: a host adapter that answers its
    # host per message or per file (rsyslog's omprog, Fluentd's chunks, Splunk's rows)
    # drives intake itself and reads each line's outcome.

    def run_feed(self, feed: Callable[[Intake], object]) -> ExitStatus:
        """`run`, with `feed(intake)` taking the input on a thread while this thread delivers.

        The feed calls `intake.accept`/`accept_many` and may tell its host about each
        outcome, since an outcome is durable when it is returned. When the feed returns,
        input has ended. Unlike `run`, --eof-timeout is a hard bound here: when it passes,
        the run stops as on SIGTERM, even while this thread waits on a stalled request,
        which the CLI then abandons after --shutdown-timeout. Hosts such as rsyslog kill
        the program a fixed time (closeTimeout) after closing its input, stalled org or not.
        """
        deliverer = self._delivery()
        eof_timer = _EofTimer(self.settings.eof_timeout, self._stop, self.shutdown)
        feeder = threading.Thread(
            target=self._feed, args=(feed, eof_timer.start), name="feed", daemon=True
        )
        feeder.start()
        try:
            while not self._stop.is_set():
                input_ended = self._input_ended.is_set()
                wait = self._step(deliverer, input_ended=input_ended)
                if input_ended and (wait is None or deliverer.stopped is not None):
                    break
                self._nap(_NAP if wait is None else wait)
        finally:
            eof_timer.cancel()
        feeder.join(_NAP)
        if self._intake_error is not None:
            raise self._intake_error
        return self._status(deliverer)

    @property
    def stopping(self) -> threading.Event:
        """Set once the run is asked to stop (a signal): a feed stops taking lines."""
        return self._stop

    def _feed(self, feed: Callable[[Intake], object], then: Callable[[], None]) -> None:
        try:
            feed(self._intake)
        except BaseException as exc:  # noqa: BLE001 - handed to the delivery thread, re-raised
            self._intake_error = exc
            self._stop.set()
        finally:
            self._intake.close()
            self._input_ended.set()
            self._wake.set()
            then()


class _EofTimer:
    """--eof-timeout as a hard bound for run_feed: once it passes, stop as on SIGTERM.

    Setting the stop event ends the delivery loop only between requests; the shipper's
    `shutdown` event tells the CLI to abandon a request still in flight after
    --shutdown-timeout, as it does on a signal.
    """

    def __init__(
        self, seconds: float | None, stop: threading.Event, shutdown: threading.Event
    ) -> None:
        self._seconds = seconds
        self._stop = stop
        self._shutdown = shutdown
        self._lock = threading.Lock()
        self._cancelled = False
        self._timer: threading.Timer | None = None

    def start(self) -> None:
        if self._seconds is None:
            return
        with self._lock:
            if not self._cancelled:
                self._timer = threading.Timer(self._seconds, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def cancel(self) -> None:
        # Under the lock, so no signal can follow the end of the run, when the CLI has put
        # back the default handler (which would kill the process).
        with self._lock:
            self._cancelled = True
            if self._timer is not None:
                self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            log.info("input ended %gs ago (--eof-timeout): stopping", self._seconds or 0)
            self._stop.set()
            self._shutdown.set()
