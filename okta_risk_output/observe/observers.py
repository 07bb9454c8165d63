"""Everything that watches a run, started and stopped in one place (for cli/runner.py).

The progress line, the metrics file, the /metrics endpoint and the live terminal line all
read the same live sources; this builds the ones asked for and hands back what the delivery
loop must call (`tickers`, `on_request`) and one `close()` for the end of the run.
prometheus-client is imported only when metrics are asked for: hosts that start the
program per batch should not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from okta_risk_output.clock import Clock
from okta_risk_output.errors import ConfigError
from okta_risk_output.observe.logs import set_overlay
from okta_risk_output.observe.progress import (
    IntakeMeter,
    LiveStatus,
    ProgressLine,
    Sampled,
    backlog_text,
    intake_text,
    is_terminal,
)

if TYPE_CHECKING:
    from okta_risk_output.observe.prometheus import MetricsServer, PrometheusMetrics, TextfileWriter

__all__ = ["Observers", "Sources", "start_observers"]

METRICS_FILE_INTERVAL = 15.0
"""Seconds between rewrites of --metrics-file: node_exporter's usual scrape interval."""

METRICS_SPOOL_EVERY = 5.0
"""The metrics' spool figures are at most this many seconds old (longer if asking cost more
than a twentieth of the time): a /metrics scrape, however often it comes, costs a status
call of the spool, under its lock, once in this time; the scrapes between get the last."""


class _Ticker(Protocol):
    def tick(self) -> object: ...


@dataclass(frozen=True)
class Sources:
    """Where the numbers come from; every one is read live, when needed."""

    counters_snapshot: Callable[[], Mapping[str, int]]
    spool_status: Callable[[], Mapping[str, Any]]
    budget: Callable[[], Mapping[str, float] | None] = lambda: None
    next_send: Callable[[], float | None] = lambda: None


@dataclass
class Observers:
    tickers: list[_Ticker] = field(default_factory=list)
    """Call each one's tick() on every pass of the delivery loop."""
    telemetry: PrometheusMetrics | None = None
    textfile: TextfileWriter | None = None
    server: MetricsServer | None = None
    live: LiveStatus | None = None
    live_spool: Sampled[Mapping[str, Any]] | None = None
    """The live line's view of the spool, refreshed before its last drawing."""
    metrics_spool: Sampled[Mapping[str, Any]] | None = None
    """The metrics' view of the spool (METRICS_SPOOL_EVERY), refreshed before the last
    metrics file is written."""

    def on_request(self, outcome: str, seconds: float) -> None:
        """A request ended: `outcome` is retry.Action's value, `seconds` its duration."""
        if self.telemetry is not None:
            self.telemetry.observe_request(outcome, seconds)

    def close(self) -> None:
        """At the end of the run, before the spool is closed: the last metrics are its
        final counts. Safe to call again (a failed run closes it on the way out)."""
        live, textfile, server = self.live, self.textfile, self.server
        self.live = self.textfile = self.server = None
        self.tickers.clear()
        if live is not None:
            set_overlay(None)
            if self.live_spool is not None:
                self.live_spool.expire()
            live.stop()
        if self.metrics_spool is not None:
            self.metrics_spool.expire()
        if textfile is not None:
            textfile.close()
        if server is not None:
            server.close()


def start_observers(
    sources: Sources,
    *,
    clock: Clock,
    stats_interval: float = 60.0,
    metrics_file: str | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    stderr: TextIO | None = None,
    meter: IntakeMeter | None = None,
) -> Observers:
    """Start what is asked for. `stderr` given and a terminal: the live line (with a bar
    when `meter` counts the input files). Raises ConfigError when the metrics file cannot
    be written or the port cannot be bound, before anything is read."""
    observers = Observers()
    observers.tickers.append(
        ProgressLine(
            counters_snapshot=sources.counters_snapshot,
            spool_status=sources.spool_status,
            monotonic=clock.monotonic,
            interval=stats_interval,
            budget=sources.budget,
            next_send=sources.next_send,
        )
    )
    if metrics_file is not None or metrics_port is not None:
        _start_metrics(observers, sources, clock, metrics_file, metrics_port, metrics_host)
    if stderr is not None and is_terminal(stderr):
        observers.live_spool = Sampled(sources.spool_status, clock.monotonic)
        observers.live = _live_line(sources, observers.live_spool, stderr, meter)
        set_overlay(observers.live)
        observers.live.start()
    return observers


def _start_metrics(
    observers: Observers,
    sources: Sources,
    clock: Clock,
    path: str | None,
    port: int | None,
    host: str,
) -> None:
    from okta_risk_output.observe.prometheus import PrometheusMetrics, TextfileWriter

    # Counters and the rate budget are read live (cheap, no lock of the spool's); the spool's
    # status is sampled, so that no scrape rate can keep intake and delivery waiting on it.
    spool = Sampled(sources.spool_status, clock.monotonic, every=METRICS_SPOOL_EVERY)
    telemetry = PrometheusMetrics(
        counters_snapshot=sources.counters_snapshot,
        spool_status=spool,
        budget=sources.budget,
    )
    observers.metrics_spool = spool
    observers.telemetry = telemetry
    if path is not None:
        try:
            telemetry.write_textfile(path)
        except OSError as exc:
            raise ConfigError([f"--metrics-file: cannot write {path}: {exc.strerror}"]) from None
        observers.textfile = TextfileWriter(
            telemetry, path, interval=METRICS_FILE_INTERVAL, monotonic=clock.monotonic
        )
        observers.tickers.append(observers.textfile)
    if port is not None:
        try:
            observers.server = telemetry.serve(host, port)
        except OSError as exc:
            raise ConfigError(
                [f"--metrics-port: cannot listen on {host}:{port}: {exc.strerror}"]
            ) from None


def _live_line(
    sources: Sources,
    spool: Sampled[Mapping[str, Any]],
    stderr: TextIO,
    meter: IntakeMeter | None,
) -> LiveStatus:
    # The spool's status is costly on a big spool: `spool` asks for it seldom.
    parts: list[Callable[[], str]] = []
    if meter is not None:
        parts.append(lambda: intake_text(meter))
    parts.append(lambda: backlog_text(sources.counters_snapshot(), spool(), sources.next_send()))
    return LiveStatus(stderr, parts)
