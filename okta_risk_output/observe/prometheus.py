"""Prometheus metrics: a textfile for node_exporter (--metrics-file) or a /metrics endpoint
(--metrics-port), both from one dedicated registry, through prometheus-client.

Most values are read live when a scrape or a write happens, from callables the shipper
passes (its Counters, the spool's status, Okta's last rate-limit headers), so nothing is
counted twice and nothing can drift from the summary line or `status`. Only what has no
other home is kept here: requests by outcome and their latency, fed by `observe_request`.

Metric names (all prefixed okta_risk_output_):

    lines_read_total                      input lines read by this process
    lines_total{outcome}                  ...each ended as blank, invalid, skipped, spooled
                                          or refused (they add up to lines_read_total)
    signals_total{outcome}                spooled signals this process settled: delivered,
                                          rejected_by_okta, gave_up, expired, dropped,
                                          coalesced; and taken_over: left to another process
                                          once this one's lease had run out
    spool_signals_total{state}            the spool's totals since it was created, for every
                                          process sharing it: accepted = delivered +
                                          dead_lettered + expired + dropped + coalesced +
                                          what is still in it
    requests_total{outcome}               requests to Okta by outcome (observe_request)
    request_duration_seconds              histogram of request latency (observe_request)
    retries_total, throttled_total        retried answers; of them, 429s
    rate_limit_limit, _remaining,         Okta's X-Rate-Limit-* from the last answer
    rate_limit_reset_seconds              (absent until one came)
    spool_waiting_signals{risk_level}     signals in the spool, by level (they add up to
                                          what the totals leave in it)
    spool_in_flight_signals, spool_retry_waiting_signals
    spool_bytes, spool_file_bytes         the signals' size; the file's (with its WAL)
    spool_oldest_signal_age_seconds       0 when the spool is empty
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import start_http_server, write_to_textfile
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from okta_risk_output import __version__
from okta_risk_output.observe.logs import log

__all__ = ["LATENCY_BUCKETS", "PREFIX", "MetricsServer", "PrometheusMetrics", "TextfileWriter"]

PREFIX = "okta_risk_output_"

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds. Okta answers in tens to hundreds of milliseconds; the top buckets catch slow
TLS handshakes and requests that ran into --timeout (30 s by default)."""

# Counters.snapshot() names -> the outcome label they are exported under.
_LINE_OUTCOMES = {
    "blank": "blank",
    "invalid": "invalid",
    "skipped": "skipped",
    "spooled": "spooled",
    "refused": "refused",
}
_SIGNAL_OUTCOMES = {
    "delivered": "delivered",
    "rejected": "rejected_by_okta",
    "gave_up": "gave_up",
    "expired": "expired",
    "evicted": "dropped",
    "coalesced": "coalesced",
    "taken_over": "taken_over",
}

CountersSnapshot = Callable[[], Mapping[str, int]]
SpoolStatus = Callable[[], Mapping[str, Any]]
Budget = Callable[[], Mapping[str, float] | None]


class _LiveCollector(Collector):
    """Reads the shipper's state at collection time. A source that fails (the spool closed
    at the end of a run, say) costs its own metrics for that scrape, never the others."""

    def __init__(
        self, counters_snapshot: CountersSnapshot, spool_status: SpoolStatus, budget: Budget
    ) -> None:
        self._counters = counters_snapshot
        self._spool = spool_status
        self._budget = budget

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            PREFIX + "info", "Version of okta-risk-output.", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        for part in (self._from_counters, self._from_spool, self._from_budget):
            try:
                metrics = list(part())
            except Exception as exc:  # noqa: BLE001 - a scrape must not fail for one source
                log.debug("metrics: %s failed: %r", part.__name__, exc)
                continue
            yield from metrics

    def _from_counters(self) -> Iterator[Metric]:
        counts = self._counters()
        yield _counter("lines_read", "Input lines read by this process.", counts["lines"])
        lines = CounterMetricFamily(
            PREFIX + "lines",
            "Input lines by what became of them (they add up to lines_read_total).",
            labels=["outcome"],
        )
        for name, outcome in _LINE_OUTCOMES.items():
            lines.add_metric([outcome], counts[name])
        yield lines
        signals = CounterMetricFamily(
            PREFIX + "signals",
            "Spooled signals this process settled, by outcome.",
            labels=["outcome"],
        )
        for name, outcome in _SIGNAL_OUTCOMES.items():
            signals.add_metric([outcome], counts[name])
        yield signals
        yield _counter("retries", "Requests answered with a retryable outcome.", counts["retries"])
        yield _counter("throttled", "Requests Okta answered with 429.", counts["throttled"])

    def _from_spool(self) -> Iterator[Metric]:
        status = self._spool()
        totals = CounterMetricFamily(
            PREFIX + "spool_signals",
            "Spool totals since it was created, for all processes sharing it.",
            labels=["state"],
        )
        for state, value in status["totals"].items():
            totals.add_metric([state], value)
        yield totals
        # Not `spool_signals`: that name is the totals' family above, and one name may
        # have only one type.
        waiting = GaugeMetricFamily(
            PREFIX + "spool_waiting_signals",
            "Signals in the spool, by risk level.",
            labels=["risk_level"],
        )
        for level, count in status["by_risk_level"].items():
            waiting.add_metric([level], count)
        yield waiting
        yield _gauge("spool_in_flight_signals", "Signals in a request now.", status["in_flight"])
        yield _gauge(
            "spool_retry_waiting_signals",
            "Signals waiting for a retry.",
            status["waiting_retry"],
        )
        yield _gauge("spool_bytes", "Bytes of signals in the spool.", status["bytes_of_signals"])
        yield _gauge(
            "spool_file_bytes", "Size of the spool file and its WAL.", status["file_bytes"]
        )
        age = status["oldest_age_seconds"]
        yield _gauge(
            "spool_oldest_signal_age_seconds",
            "How long the oldest waiting signal has waited (0: none waits).",
            0.0 if age is None else age,
        )

    def _from_budget(self) -> Iterator[Metric]:
        budget = self._budget()
        if budget is None:
            return
        yield _gauge("rate_limit_limit", "Okta's X-Rate-Limit-Limit.", budget["limit"])
        yield _gauge("rate_limit_remaining", "Okta's X-Rate-Limit-Remaining.", budget["remaining"])
        yield _gauge(
            "rate_limit_reset_seconds",
            "Seconds until Okta's rate-limit window resets.",
            budget["reset_in"],
        )


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, text, value=value)


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, text, value=value)


def _no_budget() -> None:
    return None


class PrometheusMetrics:
    """One registry of this process's metrics; write it to a file or serve it."""

    def __init__(
        self,
        *,
        counters_snapshot: CountersSnapshot,
        spool_status: SpoolStatus,
        budget: Budget = _no_budget,
    ) -> None:
        # A registry of our own: the global one would also export the Python process
        # collectors and whatever else was registered in this interpreter (tests).
        self.registry = CollectorRegistry()
        self.registry.register(_LiveCollector(counters_snapshot, spool_status, budget))
        self._requests = Counter(
            PREFIX + "requests",
            "Requests to Okta by outcome: delivered, retry, rejected, stop.",
            ["outcome"],
            registry=self.registry,
        )
        self._latency = Histogram(
            PREFIX + "request_duration_seconds",
            "Time from sending a request to Okta's answer (or the error).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, outcome: str, seconds: float) -> None:
        """One request ended: count it under `outcome` and record how long it took."""
        self._requests.labels(outcome=outcome).inc()
        self._latency.observe(max(0.0, seconds))

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, as a scrape would get them."""
        return generate_latest(self.registry)

    def write_textfile(self, path: str) -> None:
        """Write the metrics to `path` atomically: prometheus-client writes a temporary file
        beside it and renames it over `path`, so node_exporter never reads half a file.
        Raises OSError when it cannot."""
        write_to_textfile(path, self.registry)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
        """Serve /metrics on host:port (0: any free port) from a daemon thread. Loopback by
        default: the metrics say how busy the org is, which is nobody else's business."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return MetricsServer(server, thread)


@dataclass
class MetricsServer:
    """The running /metrics endpoint."""

    server: Any
    """The WSGI server (prometheus-client's type is private)."""
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port bound, useful when 0 was asked for."""
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


class TextfileWriter:
    """Rewrites the metrics file every `interval` seconds when `tick()` is called, and at
    `close()`. A failed write is a WARN line, once until a write succeeds again: metrics
    must never stop delivery."""

    def __init__(
        self,
        telemetry: PrometheusMetrics,
        path: str,
        *,
        interval: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._telemetry = telemetry
        self._path = path
        self._interval = interval
        self._monotonic = monotonic
        self._due = monotonic()
        self._failing = False

    def tick(self) -> None:
        now = self._monotonic()
        if now >= self._due:
            self._due = now + self._interval
            self._write()

    def close(self) -> None:
        self._write()

    def _write(self) -> None:
        try:
            self._telemetry.write_textfile(self._path)
        except OSError as exc:
            if not self._failing:
                log.warning("cannot write the metrics file %s: %s", self._path, exc.strerror)
            self._failing = True
        else:
            self._failing = False
