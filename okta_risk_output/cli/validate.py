"""The `validate` command: check input files as `run` would, report every bad line.

It reads the same flags and environment variables as `run` for everything that shapes a
record (the settings of config/table.py whose commands include validate), and nothing
else: it needs no org URL or credential, never sends, never opens the spool or the
dead-letter file. The report goes to stdout (it is this command's output); problems
with the command itself go to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

import click

from okta_risk_output.cli.command import Command, environment_table
from okta_risk_output.cli.options import setting_options
from okta_risk_output.config.settings import build_settings, record_mapper
from okta_risk_output.config.table import settings_of
from okta_risk_output.errors import ConfigError, ExitStatus
from okta_risk_output.intake.check import (
    BadLine,
    Checker,
    json_line,
    summary_json,
    summary_text,
    text_lines,
)
from okta_risk_output.observe.logs import log, setup_logging

__all__ = ["validate_command"]

_EPILOG = """\b
Output (text): one line per error of each bad line, the most relevant first,
  FILE:LINE: KIND: PATH: MESSAGE
then `N lines: V valid, I invalid, S skipped, B blank`. With --format json: one JSON
object per bad line ({"type": "invalid", "source", "line", "kind", "headline",
"errors"}), then {"type": "summary", ...}.

\b
Exit codes:
  0  every line is valid (skipped and blank lines are fine)
  1  at least one line would be dead-lettered
  2  usage or configuration error

""" + environment_table(settings_of("validate"))


@click.command("validate", cls=Command, epilog=_EPILOG)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (one object per line) for machines.",
)
@setting_options("validate")
def validate_command(files: tuple[str, ...], output_format: str, **options: Any) -> int:
    """Check JSON lines from FILES (or stdin) as `run` would, sending nothing.

    Each line is mapped and normalised exactly as `run` does it (the same flags and
    environment variables) and checked against the RiskEvent schema. Every line that
    `run` would dead-letter is listed with its number and each error with its JSON path.
    """
    setup_logging()
    try:
        settings = build_settings(options, delivery=False, command="validate")
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("%s", problem)
        return ExitStatus.USAGE
    checker = Checker(record_mapper(settings))
    as_json = output_format == "json"
    now = time.time()

    def report(bad_lines: Iterable[BadLine]) -> None:
        for bad in bad_lines:
            if as_json:
                click.echo(json_line(bad))
            else:
                for text in text_lines(bad):
                    click.echo(text)

    for name in files or ("-",):
        if name == "-":
            report(checker.check_stream(sys.stdin.buffer, "<stdin>", now))
        else:
            with open(name, "rb") as stream:
                report(checker.check_stream(stream, name, now))
    tally = checker.tally
    click.echo(summary_json(tally) if as_json else summary_text(tally))
    # 1 is validate's own "some line is bad", not ExitStatus.UNEXPECTED: see the epilog.
    return ExitStatus.OK if tally.all_valid else 1
