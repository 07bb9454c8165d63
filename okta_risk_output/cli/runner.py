"""Running a shipper under signals: what run, enqueue, drain and the host commands share.

`run_shipper` builds the settings, the shipper and its observers, runs the command's work on
a thread while this (main) thread handles SIGTERM and SIGINT, logs the summary and *returns*
the exit status; the command that called it decides the process's exit code (a host maps
it to its own). A configuration problem is logged and returned as its exit status too.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType
from typing import Any

from okta_risk_output.cli import early_signals
from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import Settings, build_settings
from okta_risk_output.errors import ExitStatus, OktaRiskOutputError
from okta_risk_output.observe.logs import log, setup_logging
from okta_risk_output.observe.observers import Sources, start_observers
from okta_risk_output.observe.progress import IntakeMeter
from okta_risk_output.shipper import Shipper

__all__ = ["Work", "run_shipper"]

Work = Callable[[Shipper], ExitStatus]
"""What a command has the shipper do (shipper.run, enqueue, drain, run_feed)."""

_POLL = 0.2


def run_shipper(
    options: dict[str, Any],
    work: Work,
    stack: ExitStack | None = None,
    *,
    command: str,
    delivery: bool = True,
    meter: IntakeMeter | None = None,
    live: bool = False,
    dry_run: bool = False,
) -> ExitStatus:
    """`options`: the flags' values (None when not given); `command`: whose own defaults
    apply; `stack`: closed when the work is done (the input files); `meter`: input files are
    counted for a progress bar; `live`: the live line on a terminal even without input files
    (drain); `dry_run`: see run --dry-run."""
    if stack is None:
        stack = ExitStack()
    setup_logging()
    try:
        settings = build_settings(options, delivery=delivery and not dry_run, command=command)
        setup_logging(settings.log_level, fmt=settings.log_format)
        stop = threading.Event()
        clock = SystemClock()
        with stack:
            client = None
            if dry_run:
                import tempfile  # here: shutil, random and bz2 with it, for dry runs only

                from okta_risk_output.config.settings import dry_run_settings
                from okta_risk_output.okta.dry_run import DryRunClient

                workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="okta-dry-run-"))
                settings = dry_run_settings(settings, workdir)
                client = DryRunClient(sys.stdout)
            shipper = Shipper(settings, clock=clock, stop=stop, client=client)
            observers = start_observers(
                Sources(
                    counters_snapshot=shipper.counters.snapshot,
                    spool_status=lambda: shipper.spool.status(clock.time()),
                    budget=shipper.budget,
                    next_send=shipper.next_send,
                ),
                clock=clock,
                stats_interval=settings.stats_interval,
                metrics_file=settings.metrics_file,
                metrics_port=settings.metrics_port,
                metrics_host=settings.metrics_host,
                stderr=sys.stderr if live or meter is not None else None,
                meter=meter,
            )
            stack.callback(observers.close)  # also when the run fails
            shipper.tickers.extend(observers.tickers)
            shipper.on_request = observers.on_request
            return _run_with_signals(shipper, work, stop, settings, before_close=observers.close)
    except OktaRiskOutputError as exc:
        for problem in getattr(exc, "problems", None) or [str(exc)]:
            log.error("%s", problem)
        return exc.exit_status


def _run_with_signals(
    shipper: Shipper,
    work: Work,
    stop: threading.Event,
    settings: Settings,
    before_close: Callable[[], None] = lambda: None,
) -> ExitStatus:
    """Run `work` on a thread while this (main) thread handles SIGTERM and SIGINT.

    The first signal asks for a shutdown: the work stops reading and sending, and if a
    request is still running after --shutdown-timeout it is abandoned (its events stay in
    the spool; at worst Okta gets them twice). A second signal ends the process at once;
    the spool, being SQLite, stays consistent.
    """
    result: list[ExitStatus] = []
    failure: list[BaseException] = []
    signalled: list[str] = []
    received = itertools.count()

    def target() -> None:
        try:
            result.append(work(shipper))
        except BaseException as exc:  # noqa: BLE001 - re-raised below, on the main thread
            failure.append(exc)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # No logging here: the interrupted code may hold the log handler's lock (say, a
        # write to a stderr nobody reads), and a second signal must still end the process.
        # One atomic step decides first or second, so a nested call cannot miss it.
        if next(received):
            os.write(2, f"ERROR second {signal.Signals(signum).name}: exiting now\n".encode())
            os._exit(128 + signum)
        signalled.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    # A signal that came while the program was starting (early_signals recorded it) counts
    # as received now: the run starts already shutting down.
    early, previous = early_signals.hand_over(previous)
    for signum in early:
        on_signal(signum, None)
    # A daemon thread, so that an abandoned request cannot keep the process alive.
    worker = threading.Thread(target=target, name="shipper", daemon=True)
    worker.start()
    try:
        # Short joins only: a signal the kernel hands to another thread reaches this
        # thread's handler only when it wakes, so a long join would sit on a second signal.
        while worker.is_alive() and not signalled and not shipper.shutdown.is_set():
            worker.join(_POLL)
        if signalled or shipper.shutdown.is_set():
            if signalled:
                log.info("received %s: shutting down", signalled[0])
            deadline = time.monotonic() + settings.shutdown_timeout
            while worker.is_alive() and time.monotonic() < deadline:
                worker.join(_POLL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if worker.is_alive():
        log.warning(
            "a request was still running after %gs (--shutdown-timeout); abandoned, "
            "its events stay in the spool",
            settings.shutdown_timeout,
        )
        before_close()  # the last metrics, while the spool is still open
        log.info("%s", shipper.summary())
        return ExitStatus.OK
    before_close()
    log.info("%s", shipper.summary())
    shipper.close()
    if failure:
        error = failure[0]
        if isinstance(error, OktaRiskOutputError):
            raise error
        log.error("unexpected error: %r", error, exc_info=error)
        return ExitStatus.UNEXPECTED
    return result[0]
