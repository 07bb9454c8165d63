"""`fluentd`: one Fluentd out_exec buffer chunk (`command CHUNK`), its exit status deciding
whether Fluentd commits the chunk.

Runs a shipper through cli/runner.py, which returns the exit status, and maps it to the code
out_exec expects. Its own default (--eof-timeout 30s) is in config/table.py.
"""

from __future__ import annotations

from typing import Any

import click

from okta_risk_output.cli.command import EPILOG, Command
from okta_risk_output.cli.options import setting_options
from okta_risk_output.cli.runner import run_shipper
from okta_risk_output.errors import ExitStatus
from okta_risk_output.hosts.fluentd import (
    REMEMBER_SECONDS,
    ChunkFormat,
    ChunkMemory,
    ChunkResult,
    fluentd_exit_code,
    memory_path,
    spool_chunk,
)
from okta_risk_output.intake.loop import Intake
from okta_risk_output.shipper import Shipper

__all__ = ["fluentd"]


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
