"""`splunk`: the Splunk alert action okta_risk (the app's bin/okta_risk.py runs it).

Reads splunkd's payload on stdin, runs a shipper through cli/runner.py and maps its exit
status to Splunk's codes. Settings come from the payload's configuration, then the
environment (hosts/splunk.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import click

from okta_risk_output.cli.command import Command
from okta_risk_output.cli.runner import run_shipper
from okta_risk_output.config.table import ENV
from okta_risk_output.errors import ConfigError, ExitStatus
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

__all__ = ["splunk"]


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
