"""`run`, `enqueue` and `drain`: the commands that read lines into the spool, deliver from
it, or both. Their flags come from config/table.py; cli/runner.py runs the work."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any, BinaryIO

import click

from okta_risk_output.cli.command import EPILOG, Command
from okta_risk_output.cli.options import setting_options
from okta_risk_output.cli.runner import run_shipper
from okta_risk_output.errors import ExitStatus
from okta_risk_output.observe.progress import IntakeMeter, inputs_are_files, is_terminal
from okta_risk_output.shipper import Source
from okta_risk_output.units import parse_duration

__all__ = ["drain", "enqueue", "run"]

_files = click.argument(
    "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)


@click.command("run", cls=Command, epilog=EPILOG)
@_files
@click.option(
    "--dry-run",
    is_flag=True,
    help="Everything but the POST: print each request body on stdout (a temporary spool; "
    "no org URL or credential needed).",
)
@setting_options("run")
def run(files: tuple[str, ...], dry_run: bool, **options: Any) -> ExitStatus:
    """Read JSON lines from FILES (or stdin), spool them and deliver them to Okta.

    Durations are seconds (0.5) or have a unit (250ms, 2s, 5m, 24h). Ends when the input has
    ended and nothing deliverable is left (or --eof-timeout passed; the rest stays spooled).
    SIGTERM or SIGINT stops reading, leaves what is undelivered in the spool, prints the
    summary and exits 0; a second signal exits at once.
    """
    stack = ExitStack()
    meter = _meter(files)
    return run_shipper(
        options,
        lambda shipper: shipper.run(_sources(files, stack, meter)),
        stack,
        command="run",
        meter=meter,
        dry_run=dry_run,
    )


@click.command("enqueue", cls=Command, epilog=EPILOG)
@_files
@setting_options("enqueue")
def enqueue(files: tuple[str, ...], **options: Any) -> ExitStatus:
    """Validate JSON lines from FILES (or stdin) and spool them, without sending.

    For short-lived hosts: a later `drain` (or `run`) delivers what was spooled.
    """
    stack = ExitStack()
    return run_shipper(
        options,
        lambda shipper: shipper.enqueue(_sources(files, stack)),
        stack,
        command="enqueue",
        delivery=False,
    )


@click.command("drain", cls=Command, epilog=EPILOG)
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
@setting_options("drain")
def drain(mode: str, duration: str | None, **options: Any) -> ExitStatus:
    """Deliver what is in the spool, reading no input."""
    if duration is not None and mode == "forever":
        # Either would be a silent surprise: a service that stops, or a timer that never does.
        raise click.UsageError(
            "--for and --forever contradict each other: --for DUR stops after DUR, --forever"
            " runs until a signal; give one"
        )
    seconds = None
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    until_empty = mode == "until-empty" and seconds is None
    return run_shipper(
        options,
        lambda shipper: shipper.drain(until_empty=until_empty, duration=seconds),
        command="drain",
        live=True,
    )


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
