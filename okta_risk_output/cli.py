"""The command line. The only module that touches sys.stdin, signals and exit codes."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType
from typing import Any, TypeVar

import click

from okta_risk_output import __version__
from okta_risk_output.clock import SystemClock
from okta_risk_output.config import DEFAULTS, ENV, build_settings
from okta_risk_output.emulator.command import emulator_command
from okta_risk_output.errors import ExitStatus, OktaRiskOutputError
from okta_risk_output.logs import log, setup_logging
from okta_risk_output.shipper import Shipper, Source
from okta_risk_output.validation import EVENT_SCHEMA, REQUEST_SCHEMA, schema_text

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
            "the token itself (no flag: it would show in `ps`)"
            if name == "api_token"
            else f"--{name.replace('_', '-')}"
        )
        for name, var in ENV.items()
    )
    return f"\b\nEnvironment (a flag wins over its variable):\n{rows}"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="okta-risk-output")
def cli() -> None:
    """Deliver risk signals from log pipelines to Okta's Risk Events API.

    Reads JSON lines (RiskEvents or flat {ip, riskLevel, message} signals), validates each
    against the RiskEvent schema, and sends batches to POST /api/v1/risk/events/ip within
    Okta's limits. Bad lines go to a dead-letter file; logs go to stderr.
    """


def _option(name: str, help_text: str, **kwargs: Any) -> Callable[[FC], FC]:
    default = DEFAULTS.get(name.replace("-", "_"))
    suffix = f" [default: {default}]" if default else ""
    return click.option(f"--{name}", default=None, help=help_text + suffix, **kwargs)


@cli.command(epilog=_exit_code_table() + "\n\n" + _env_table())
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@_option("org-url", "Okta org base URL, e.g. https://example.okta.com.", metavar="URL")
@_option("api-token-file", "File holding the Okta API token (else OKTA_API_TOKEN).", metavar="PATH")
@_option("dead-letter", "JSONL file for records that will not reach Okta.", metavar="PATH")
@_option("rate-limit", "Most requests per period, never exceeded: 30/min, 5/s.", metavar="RATE")
@_option("max-events-per-request", "Events per request, 1 to 20.", metavar="N")
@_option("linger", "Send a partial batch once its oldest event waited this long.", metavar="DUR")
@_option("default-expires-in", "Set expiresAt this long after intake when missing.", metavar="DUR")
@_option("max-line-bytes", "Longer lines are dead-lettered.", metavar="N")
@_option("timeout", "HTTP read timeout.", metavar="DUR")
@_option("max-backoff", "Longest wait between retries of a failing request.", metavar="DUR")
@_option("max-retry-age", "Dead-letter a batch retried this long [default: never].", metavar="DUR")
@_option("log-level", "DEBUG, INFO, WARN or ERROR.", metavar="LEVEL")
@click.option("--strict", is_flag=True, default=None, help="No normalisation: the schema as is.")
def run(files: tuple[str, ...], **options: Any) -> None:
    """Read JSON lines from FILES (or stdin) and deliver them to Okta.

    Durations are seconds (0.5) or have a unit (250ms, 2s, 5m, 24h). Ends when the input has
    ended and everything read was delivered or dead-lettered; SIGTERM or SIGINT stops reading,
    dead-letters what is undelivered, prints the summary and exits 0.
    """
    setup_logging()
    try:
        settings = build_settings(options)
        setup_logging(settings.log_level)
        with ExitStack() as stack:
            sources = [
                Source("<stdin>", sys.stdin.buffer)
                if name == "-"
                else Source(name, stack.enter_context(open(name, "rb")))
                for name in files or ("-",)
            ]
            stop = threading.Event()
            shipper = Shipper(settings, clock=SystemClock(), stop=stop)
            status = _run_with_signals(lambda: shipper.run(sources), stop)
    except OktaRiskOutputError as exc:
        for problem in getattr(exc, "problems", None) or [str(exc)]:
            log.error("%s", problem)
        status = exc.exit_status
    sys.exit(int(status))


def _run_with_signals(work: Any, stop: threading.Event) -> ExitStatus:
    """Run `work` on a thread while this (main) thread handles SIGTERM and SIGINT.

    The first signal asks for a shutdown; a second one ends the process at once.
    """
    result: list[ExitStatus] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # noqa: BLE001 - re-raised below, on the main thread
            failure.append(exc)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.error("second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker = threading.Thread(target=target, name="shipper")
        worker.start()
        while worker.is_alive():
            worker.join(_POLL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure:
        error = failure[0]
        if isinstance(error, OktaRiskOutputError):
            raise error
        log.error("unexpected error: %r", error, exc_info=error)
        return ExitStatus.UNEXPECTED
    return result[0]


@cli.command()
@click.argument("which", type=click.Choice(["event", "request"]), default="event")
def schema(which: str) -> None:
    """Print the JSON Schema of one RiskEvent (event) or of a request body (request)."""
    click.echo(schema_text(EVENT_SCHEMA if which == "event" else REQUEST_SCHEMA), nl=False)


cli.add_command(emulator_command, "emulator")


def main() -> None:
    cli(prog_name="okta-risk-output")
