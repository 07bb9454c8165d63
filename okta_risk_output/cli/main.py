"""The command line. The only module that touches sys.stdin, signals and exit codes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType
from typing import Any, BinaryIO, TypeVar

import click

from okta_risk_output import __version__
from okta_risk_output.cli import entry
from okta_risk_output.cli.emulator import emulator_command
from okta_risk_output.cli.map import map_command
from okta_risk_output.cli.validate import validate_command
from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import DEFAULTS, ENV, Settings, build_settings
from okta_risk_output.errors import ExitStatus, OktaRiskOutputError
from okta_risk_output.intake.validation import EVENT_SCHEMA, REQUEST_SCHEMA, schema_text
from okta_risk_output.observe.logs import log, setup_logging
from okta_risk_output.observe.observers import Sources, start_observers
from okta_risk_output.observe.progress import IntakeMeter, inputs_are_files, is_terminal
from okta_risk_output.observe.status import render_status, watch
from okta_risk_output.shipper import Shipper, Source
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.units import parse_duration

__all__ = ["cli", "main"]

_POLL = 0.2
FC = TypeVar("FC", bound=Callable[..., Any])


def _exit_code_table() -> str:
    rows = "\n".join(f"  {s.value}  {s.meaning}" for s in ExitStatus)
    return f"\b\nExit codes:\n{rows}"


def _env_table() -> str:
    rows = "\n".join(
        f"  {var:<34} "
        + (
            "the secret itself (no flag: it would show in `ps`)"
            if name in ("api_token", "private_key")
            else f"--{name.replace('_', '-')}"
        )
        for name, var in ENV.items()
    )
    return f"\b\nEnvironment (a flag wins over its variable):\n{rows}"


_EPILOG = _exit_code_table() + "\n\n" + _env_table()


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EPILOG,
)
@click.version_option(__version__, prog_name="okta-risk-output")
def cli() -> None:
    """Deliver risk signals from log pipelines to Okta's Risk Events API.

    Reads JSON lines (RiskEvents or flat {ip, riskLevel, message} signals), validates each
    against the RiskEvent schema, keeps them in a durable spool, and sends batches to
    POST /api/v1/risk/events/ip within Okta's limits. Bad lines go to a dead-letter file;
    logs go to stderr.
    """
    # entry.py has recorded signals since the start; commands that run under
    # _run_with_signals take them over there, the others get Python's handlers back now.
    if click.get_current_context().invoked_subcommand not in _HANDLES_SIGNALS:
        entry.release()


_HANDLES_SIGNALS = frozenset({"run", "enqueue", "drain", "omprog", "fluentd", "splunk"})
"""Commands that reach _run_with_signals (the host commands through _main)."""


def _option(name: str, help_text: str, **kwargs: Any) -> Callable[[FC], FC]:
    default = DEFAULTS.get(name.replace("-", "_"))
    suffix = f" [default: {default}]" if default else ""
    return click.option(f"--{name}", default=None, help=help_text + suffix, **kwargs)


def _options(*decorators: Callable[[FC], FC]) -> Callable[[FC], FC]:
    def apply(function: FC) -> FC:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


_common = _options(
    _option("dead-letter", "JSONL file for records that will not reach Okta.", metavar="PATH"),
    _option(
        "spool",
        "The spool file [default: $XDG_STATE_HOME/okta-risk-output/spool.db].",
        metavar="PATH",
    ),
    _option("spool-max-events", "Most events the spool holds.", metavar="N"),
    _option(
        "spool-max-bytes", "Most bytes of events the spool holds (MiB, GiB...).", metavar="SIZE"
    ),
    _option(
        "spool-sync",
        "normal: a commit survives a crash of this process; full: also a power cut (slower).",
        metavar="MODE",
    ),
    _option("log-level", "DEBUG, INFO, WARN or ERROR.", metavar="LEVEL"),
    _option("log-format", "text (the level word first) or json (an object a line).", metavar="F"),
    _option("stats-interval", "Log a progress line this often; 0: never.", metavar="DUR"),
    _option(
        "metrics-file",
        "Write Prometheus metrics to this file (node_exporter's textfile collector).",
        metavar="PATH",
    ),
    _option("metrics-port", "Serve Prometheus metrics on /metrics at this port.", metavar="N"),
    _option("metrics-host", "Address for --metrics-port.", metavar="HOST"),
)
_intake = _options(
    _option(
        "overflow", "When the spool is full: drop-lowest-risk, block or reject-new.", metavar="P"
    ),
    _option(
        "default-expires-in", "Set expiresAt this long after intake when missing.", metavar="DUR"
    ),
    _option("max-line-bytes", "Longer lines are dead-lettered.", metavar="N"),
    click.option(
        "--strict",
        is_flag=True,
        default=None,
        help="No normalisation (addresses are still written canonically): the schema as is.",
    ),
    _option(
        "profile",
        "Map foreign records first: suricata, zeek, cef, ecs, splunk-es, auto, or a TOML file.",
        metavar="NAME",
    ),
    _option("direction", "Which address a profile reports: source or destination.", metavar="D"),
    _option(
        "coalesce-window",
        "Merge a repeated IP only into a signal this recent [default: while it waits].",
        metavar="DUR",
    ),
    click.option(
        "--no-coalesce",
        is_flag=True,
        default=None,
        help="Keep each repeat of an IP as a signal of its own.",
    ),
    click.option(
        "--allow-non-global-ips",
        is_flag=True,
        default=None,
        help="Send private, loopback, link-local, multicast and CGNAT addresses too.",
    ),
)
_delivery = _options(
    _option("org-url", "Okta org base URL, e.g. https://example.okta.com.", metavar="URL"),
    _option(
        "api-token-file", "File holding the Okta API token (else OKTA_API_TOKEN).", metavar="PATH"
    ),
    _option("rate-limit", "Most requests per period, never exceeded: 30/min, 5/s.", metavar="RATE"),
    _option("max-events-per-request", "Events per request, 1 to 20.", metavar="N"),
    _option("max-subjects-per-event", "IP subjects per event, 1 to 50.", metavar="N"),
    _option(
        "pack-granularity",
        "Signals whose timestamps and expiries agree to this share an event.",
        metavar="DUR",
    ),
    _option(
        "linger", "Send a partial batch once its oldest event waited this long.", metavar="DUR"
    ),
    _option("timeout", "HTTP read timeout.", metavar="DUR"),
    _option("max-backoff", "Longest wait between retries of a failing request.", metavar="DUR"),
    _option(
        "max-retry-age", "Dead-letter events retried this long [default: never].", metavar="DUR"
    ),
    _option("shutdown-timeout", "After SIGTERM, abandon a request still running.", metavar="DUR"),
    _option("auth", "ssws or oauth [default: oauth when a client id is set].", metavar="METHOD"),
    _option("client-id", "OAuth service app's client id (the risk provider's).", metavar="ID"),
    _option(
        "private-key-file",
        "The app's private key, PEM or JWK (else OKTA_PRIVATE_KEY).",
        metavar="PATH",
    ),
    _option("key-id", "The key's kid, when Okta holds several.", metavar="KID"),
    _option("scopes", "OAuth scopes, space-separated.", metavar="SCOPES"),
    _option("dpop", "DPoP: auto (on when Okta asks), on or off.", metavar="MODE"),
    _option(
        "token-cache", "Keep the access token between runs in this file (0600).", metavar="PATH"
    ),
    _option("ca-bundle", "CA certificates to verify Okta's TLS certificate with.", metavar="PATH"),
)
_files = click.argument(
    "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)


@cli.command(epilog=_EPILOG)
@_files
@_common
@_intake
@_delivery
@_option(
    "eof-timeout",
    "After input ends, stop delivering after this long [default: none].",
    metavar="DUR",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Everything but the POST: print each request body on stdout (a temporary spool; "
    "no org URL or credential needed).",
)
def run(files: tuple[str, ...], dry_run: bool, **options: Any) -> None:
    """Read JSON lines from FILES (or stdin), spool them and deliver them to Okta.

    Durations are seconds (0.5) or have a unit (250ms, 2s, 5m, 24h). Ends when the input has
    ended and nothing deliverable is left (or --eof-timeout passed; the rest stays spooled).
    SIGTERM or SIGINT stops reading, leaves what is undelivered in the spool, prints the
    summary and exits 0; a second signal exits at once.
    """
    stack = ExitStack()
    meter = _meter(files)
    _main(
        options,
        lambda shipper: shipper.run(_sources(files, stack, meter)),
        stack,
        meter=meter,
        dry_run=dry_run,
    )


@cli.command(epilog=_EPILOG)
@_files
@_common
@_intake
def enqueue(files: tuple[str, ...], **options: Any) -> None:
    """Validate JSON lines from FILES (or stdin) and spool them, without sending.

    For short-lived hosts: a later `drain` (or `run`) delivers what was spooled.
    """
    stack = ExitStack()
    _main(options, lambda shipper: shipper.enqueue(_sources(files, stack)), stack, delivery=False)


@cli.command(epilog=_EPILOG)
@_common
@_delivery
@click.option(
    "--until-empty",
    "mode",
    flag_value="until-empty",
    default=True,
    help="Stop when nothing is left to deliver [default].",
)
@click.option(
    "--for", "duration", metavar="DUR", default=None, help="Deliver for this long, then stop."
)
@click.option("--forever", "mode", flag_value="forever", help="Keep delivering until a signal.")
def drain(mode: str, duration: str | None, **options: Any) -> None:
    """Deliver what is in the spool, reading no input."""
    seconds = None
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    until_empty = mode == "until-empty" and seconds is None
    _main(
        options,
        lambda shipper: shipper.drain(until_empty=until_empty, duration=seconds),
        ExitStack(),
        live=True,
    )


@cli.command()
@_option(
    "spool", "The spool file [default: $XDG_STATE_HOME/okta-risk-output/spool.db].", metavar="PATH"
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
@click.option(
    "--watch",
    "watch_every",
    is_flag=False,
    flag_value="2",
    default=None,
    metavar="[SECONDS]",
    help="Show it again every SECONDS (2) until Ctrl-C.",
)
def status(spool: str | None, as_json: bool, watch_every: str | None) -> None:
    """Show what the spool holds: counts by state and risk level, age, size, last error."""
    setup_logging()
    interval = 0.0
    if watch_every is not None:  # usage first: nothing is opened for a bad flag
        try:
            interval = parse_duration(watch_every)
            if interval <= 0:
                raise ValueError(f"{watch_every!r} must be more than zero")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--watch") from None
    try:
        settings = build_settings({"spool": spool}, delivery=False)
        # Read-only: looking never creates, moves or changes a file (docs/guarantees.md).
        opened = Spool(settings.spool, policy=settings.spool_policy, read_only=True)
    except OktaRiskOutputError as exc:
        log.error("%s", exc)
        sys.exit(int(exc.exit_status))
    if watch_every is not None:
        clock = SystemClock()
        try:
            watch(
                lambda: opened.status(clock.time()),
                out=sys.stdout,
                interval=interval,
                clock=clock,
                tty=sys.stdout.isatty(),
                as_json=as_json,
            )
        except KeyboardInterrupt:
            pass  # Ctrl-C is how --watch ends: exit 0
        finally:
            opened.close()
        return
    try:
        report = opened.status(SystemClock().time())
    finally:
        opened.close()
    click.echo(json.dumps(report, indent=2) if as_json else render_status(report))


@cli.command()
@click.argument("which", type=click.Choice(["event", "request"]), default="event")
def schema(which: str) -> None:
    """Print the JSON Schema of one RiskEvent (event) or of a request body (request)."""
    click.echo(schema_text(EVENT_SCHEMA if which == "event" else REQUEST_SCHEMA), nl=False)


cli.add_command(emulator_command, "emulator")
cli.add_command(map_command, "map")
cli.add_command(validate_command, "validate")


def main() -> None:
    cli(prog_name="okta-risk-output")


# -- running a shipper under signals -------------------------------------------------------


def _sources(
    files: tuple[str, ...], stack: ExitStack, meter: IntakeMeter | None = None
) -> list[Source]:
    return [
        Source("<stdin>", _stdin())
        if name == "-"
        else Source(name, stack.enter_context(_open(name, meter)))
        for name in files or ("-",)
    ]


def _stdin() -> BinaryIO:
    """Our own reader on fd 0 rather than sys.stdin.buffer: the reader thread may still be
    blocked in it at exit (a quiet pipe after SIGTERM), holding its lock, and the interpreter
    aborts ("could not acquire lock ... at interpreter shutdown") when it then closes
    sys.stdin's. Never closed, like fd 0 itself."""
    return open(0, "rb", closefd=False)  # as long-lived as the process


def _open(name: str, meter: IntakeMeter | None) -> BinaryIO:
    stream = open(name, "rb")  # noqa: SIM115 - the caller's stack closes it
    return stream if meter is None else meter.wrap(stream)


def _meter(files: tuple[str, ...]) -> IntakeMeter | None:
    """Counts bytes read for the progress bar: only for files, and on a terminal."""
    if is_terminal(sys.stderr) and inputs_are_files(files):
        return IntakeMeter.for_files(files)
    return None


def _main(
    options: dict[str, Any],
    work: Callable[[Shipper], ExitStatus],
    stack: ExitStack,
    *,
    delivery: bool = True,
    meter: IntakeMeter | None = None,
    live: bool = False,
    dry_run: bool = False,
) -> None:
    """`meter`: input files are counted for a progress bar; `live`: the live line on a
    terminal even without input files (drain); `dry_run`: see run --dry-run."""
    setup_logging()
    try:
        settings = build_settings(options, delivery=delivery and not dry_run)
        setup_logging(settings.log_level, fmt=settings.log_format)
        stop = threading.Event()
        clock = SystemClock()
        with stack:
            client = None
            if dry_run:
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
            status = _run_with_signals(shipper, work, stop, settings, before_close=observers.close)
    except OktaRiskOutputError as exc:
        for problem in getattr(exc, "problems", None) or [str(exc)]:
            log.error("%s", problem)
        status = exc.exit_status
    sys.exit(int(status))


def _run_with_signals(
    shipper: Shipper,
    work: Callable[[Shipper], ExitStatus],
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
    # A signal that came while the program was starting (entry.py recorded it) counts as
    # received now: the run starts already shutting down.
    early, previous = entry.hand_over(previous)
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


# -- host adapters (issue 6) ----------------------------------------------------------------
# Last, because they reuse the option groups and _main above.
from okta_risk_output.cli.hosts import host_commands  # noqa: E402

for _command in host_commands():
    cli.add_command(_command)
