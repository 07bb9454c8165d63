"""The host commands: `omprog` (rsyslog), `fluentd` (out_exec) and `splunk` (alert action).

Each runs a shipper through cli/runner.py, which returns the exit status; each host then
maps it to the exit code its host expects. Their own defaults (omprog's --eof-timeout 1.5s
and --shutdown-timeout 2s, fluentd's --eof-timeout 30s) are in config/table.py. Like the
rest of cli/, this module touches stdin, stdout and exit codes; nothing below it does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from okta_risk_output.cli.command import EPILOG, Command
from okta_risk_output.cli.options import setting_options
from okta_risk_output.cli.runner import run_shipper
from okta_risk_output.config.table import ENV
from okta_risk_output.errors import ConfigError, ExitStatus
from okta_risk_output.hosts.fluentd import (
    REMEMBER_SECONDS,
    ChunkFormat,
    ChunkMemory,
    ChunkResult,
    fluentd_exit_code,
    memory_path,
    spool_chunk,
)
from okta_risk_output.hosts.omprog import Marks, OmprogSession, Replies
from okta_risk_output.hosts.splunk import (
    AlertSettings,
    PayloadError,
    SplunkAlert,
    alert_lines,
    fetch_secret,
    parse_payload,
    settings_options,
    splunk_exit_code,
)
from okta_risk_output.intake.loop import MAX_BATCH, Intake, LineOutcome
from okta_risk_output.intake.reader import Line
from okta_risk_output.observe.logs import log, setup_logging
from okta_risk_output.shipper import Shipper
from okta_risk_output.units import parse_duration

__all__ = ["fluentd", "omprog", "splunk"]


def _duration(name: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


# -- rsyslog omprog ----------------------------------------------------------------------


@click.command("omprog", cls=Command, epilog=EPILOG)
@click.option(
    "--transactions",
    is_flag=True,
    help='rsyslog\'s useTransactions="on": DEFER_COMMIT per message, OK at the commit mark.',
)
@click.option(
    "--begin-mark", default="BEGIN TRANSACTION", show_default=True, help="beginTransactionMark."
)
@click.option(
    "--commit-mark", default="COMMIT TRANSACTION", show_default=True, help="commitTransactionMark."
)
@click.option(
    "--keepalive",
    default="2s",
    show_default=True,
    metavar="DUR",
    help="While an answer waits, write a keep-alive dot this often (below confirmTimeout).",
)
@setting_options("omprog")
def omprog(
    transactions: bool, begin_mark: str, commit_mark: str, keepalive: str, **options: Any
) -> ExitStatus:
    """Run under rsyslog's omprog with confirmMessages="on" (forceSingleInstance="on").

    Answers OK once ready, then OK for each message once it is spooled or dead-lettered, or
    an error line when it is not (rsyslog keeps it and retries), with keep-alive dots while
    an answer waits. Delivers meanwhile. On EOF, delivers for --eof-timeout more, then
    stops as on SIGTERM: a request still in flight is abandoned after --shutdown-timeout.
    Here they default to 1.5s and 2s, together below rsyslog's closeTimeout (5 s). Logs go
    to stderr (omprog's output= file).
    """
    marks = Marks(begin_mark.encode(), commit_mark.encode()) if transactions else None
    # Our own objects on fds 0 and 1 rather than sys.stdin and sys.stdout: a thread still
    # blocked reading (or writing) at exit holds its stream's lock, and the interpreter
    # aborts when it then closes sys.stdin's. Unbuffered stdout: each answer is one write.
    stdin = open(0, "rb", closefd=False)  # noqa: SIM115 - as long-lived as the process
    stdout = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115 - likewise
    replies = Replies(stdout, _duration("--keepalive", keepalive))

    def work(shipper: Shipper) -> ExitStatus:
        session = OmprogSession(
            replies,
            max_line_bytes=shipper.settings.max_line_bytes,
            stop=shipper.stopping,
            marks=marks,
        )
        return shipper.run_feed(lambda intake: session.serve(stdin, intake))

    try:
        return run_shipper(options, work, command="omprog")
    finally:
        replies.close()


# -- Fluentd out_exec --------------------------------------------------------------------


@click.command("fluentd", cls=Command, epilog=EPILOG)
@click.argument("chunk", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "chunk_format",
    type=click.Choice(["json", "tsv"]),
    default="json",
    show_default=True,
    help="out_exec's <format>: JSON lines, or TSV with --keys.",
)
@click.option(
    "--keys",
    default="ip,riskLevel,message",
    show_default=True,
    help="The TSV columns, as in <format> keys.",
)
@setting_options("fluentd")
def fluentd(chunk: str, chunk_format: str, keys: str, **options: Any) -> int:
    """Spool one Fluentd buffer chunk (out_exec runs `command CHUNK`), then deliver a while.

    Exits 0 exactly when every record of CHUNK is spooled, dead-lettered or skipped by
    design, so that Fluentd commits the chunk; 6 when some could not be (spool full, a
    shutdown): Fluentd retries the chunk, and lines taken before are not taken again (the
    chunk's digest is remembered beside the spool). CHUNK is only read.
    """
    columns = tuple(k.strip() for k in keys.split(",") if k.strip())
    if not columns:
        raise click.BadParameter("name at least one key", param_hint="--keys")
    fmt = ChunkFormat("tsv" if chunk_format == "tsv" else "json", columns)
    results: list[ChunkResult] = []

    def work(shipper: Shipper) -> ExitStatus:
        def feed(intake: Intake) -> None:
            memory = ChunkMemory(memory_path(shipper.settings.spool))
            try:
                memory.forget_older_than(REMEMBER_SECONDS)
                result = spool_chunk(
                    chunk,
                    intake,
                    memory,
                    fmt=fmt,
                    max_line_bytes=shipper.settings.max_line_bytes,
                    stop=shipper.stopping,
                )
            finally:
                memory.close()
            results.append(result)

        return shipper.run_feed(feed)

    status = run_shipper(options, work, command="fluentd")
    return fluentd_exit_code(status, results[0] if results else None)


# -- Splunk alert action -----------------------------------------------------------------


@click.command("splunk", cls=Command)
@click.option("--execute", is_flag=True, help="The mode splunkd runs alert scripts in.")
def splunk(execute: bool) -> int:
    """Run as the Splunk alert action okta_risk (the app's bin/okta_risk.py calls this).

    Reads splunkd's JSON payload on stdin and every row of its results_file (gzipped CSV),
    spools a signal per address, delivers until the alert's deadline (param.deadline,
    below maxtime) and leaves the rest spooled for the next run. Settings come from the
    payload's configuration, then the environment. Exit codes are Splunk's: 0 success,
    1 not --execute, 2 delivery failed, 3 unexpected error.
    """
    setup_logging()
    if not execute:
        log.error("unsupported execution mode (expected --execute)")
        return 1
    try:
        alert = parse_payload(sys.stdin.buffer.read())
        if not os.path.isfile(alert.results_file):
            raise PayloadError(f"the results file {alert.results_file} does not exist")
        settings = AlertSettings.of(alert)
        if alert.param("credential_user"):
            # In our own environment, where build_settings looks for it; never in argv.
            secret_variable = ENV["private_key" if alert.param("client_id") else "api_token"]
            os.environ[secret_variable] = fetch_secret(alert).reveal()
    except PayloadError as exc:
        log.error("%s", exc)
        return 3
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("%s", problem)
        return 2
    options = settings_options(alert, os.environ)
    # Spooling the rows takes a moment; the deadline is for delivering them, after which
    # the run stops even with a request in flight (abandoned after --shutdown-timeout).
    options["eof_timeout"] = f"{settings.deadline}s"
    log.info("%s: delivering for at most %gs (param.deadline)", _describe(alert), settings.deadline)
    missed: list[int] = []

    def work(shipper: Shipper) -> ExitStatus:
        def feed(intake: Intake) -> None:
            lines = alert_lines(alert, settings, shipper.settings.max_line_bytes)
            missed.append(_spool_all(lines, intake, shipper))

        return shipper.run_feed(feed)

    status = run_shipper(options, work, command="splunk")
    if missed and missed[0]:
        log.error("%d signals of %s were not spooled (spool full)", missed[0], _describe(alert))
    elif not missed and status == ExitStatus.OK:
        log.error("the results of %s were not all read (a shutdown came first)", _describe(alert))
    not_spooled = missed[0] if missed else int(status == ExitStatus.OK)
    return splunk_exit_code(status, signals_missed=not_spooled)


def _spool_all(lines: Iterator[Line], intake: Intake, shipper: Shipper) -> int:
    """Every line to intake, in spool transactions; how many were not taken."""
    missed = 0
    batch: list[Line] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= MAX_BATCH:
            missed += _not_taken(intake.accept_many(batch))
            batch = []
        if shipper.stopping.is_set():
            return missed + len(batch) + sum(1 for _ in lines)
    if batch:
        missed += _not_taken(intake.accept_many(batch))
    return missed


def _not_taken(outcomes: list[LineOutcome]) -> int:
    return sum(1 for o in outcomes if o in (LineOutcome.REFUSED, LineOutcome.STOPPED))


def _describe(alert: SplunkAlert) -> str:
    return f"alert {alert.search_name or alert.sid!r}"
