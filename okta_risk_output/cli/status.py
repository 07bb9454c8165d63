"""`status`: what the spool holds, once (a table, or --json) or again and again (--watch).

Looking never creates, moves or changes a file (docs/guarantees.md): the spool is opened
read-only. Opening reads no more of the file than the report needs; `--check` also runs
SQLite's quick_check, which reads every page (about half a second at a million signals).
Damage found either way is reported as for a spool that cannot be opened (exit 6), never a
traceback.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import click

from okta_risk_output.cli.command import Command
from okta_risk_output.cli.options import setting_options
from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import build_settings
from okta_risk_output.errors import ExitStatus, OktaRiskOutputError
from okta_risk_output.observe.logs import log, setup_logging
from okta_risk_output.observe.status import render_status, watch
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.units import parse_duration

__all__ = ["status"]


@click.command("status", cls=Command)
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
@click.option(
    "--check",
    is_flag=True,
    help="First read every page of the spool (SQLite's quick_check) and report any damage; "
    "slow on a large spool.",
)
@setting_options("status")
def status(spool: str | None, as_json: bool, watch_every: str | None, check: bool) -> ExitStatus:
    """Show what the spool holds: counts by state and risk level, age, size, last error.

    With --check, SQLite's quick_check reads every page first: damage that a plain status
    does not read (it reads only what its figures need) is reported, and the exit code is 6.
    """
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
        settings = build_settings({"spool": spool}, delivery=False, command="status")
        opened = Spool(settings.spool, policy=settings.spool_policy, read_only=True, check=check)
    except OktaRiskOutputError as exc:
        log.error("%s", exc)
        return exc.exit_status
    if check:
        log.info("quick_check of %s: no damage found (every page read)", settings.spool)
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
        return ExitStatus.OK
    try:
        report = opened.status(SystemClock().time())
    except sqlite3.DatabaseError as exc:
        # A page the report reads is damaged: what an open (without --check) does not look
        # for. Reported like damage found on open; only a writer may move the file aside.
        log.error(
            "the spool %s is damaged (%s); `status --check` reads every page, and the next "
            "run that writes to it moves it aside",
            settings.spool,
            exc,
        )
        return ExitStatus.LOCAL_WRITE_FAILED
    finally:
        opened.close()
    click.echo(json.dumps(report, indent=2) if as_json else render_status(report))
    return ExitStatus.OK
