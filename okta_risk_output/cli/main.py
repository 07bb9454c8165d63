"""The `okta-risk-output` group: each subcommand imported only when it is the one to run.

`okta-risk-output enqueue` imports cli/ship.py and what it needs, never the emulator, the
host adapters or the OAuth libraries; `--help` and shell completion import every command,
for its one-line help. Which module holds which command is the table below.
"""

from __future__ import annotations

import importlib

import click

from okta_risk_output import __version__
from okta_risk_output.cli import early_signals
from okta_risk_output.cli.command import EPILOG
from okta_risk_output.config.table import SHIPPING

__all__ = ["cli", "main"]

COMMANDS = {
    "run": "ship:run",
    "enqueue": "ship:enqueue",
    "drain": "ship:drain",
    "status": "status:status",
    "validate": "validate:validate_command",
    "map": "map:map_command",
    "schema": "schema:schema",
    "emulator": "emulator:emulator_command",
    "omprog": "omprog:omprog",
    "fluentd": "fluentd:fluentd",
    "splunk": "splunk:splunk",
}
"""Command name -> "module:attribute" in okta_risk_output.cli."""

_HANDLES_SIGNALS = frozenset({*SHIPPING, "splunk"})
"""The commands that run a shipper under signals (cli/runner.py): those taking the shipper's
flags, and `splunk`, whose settings come from its alert payload."""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, attribute = where.split(":")
        command = getattr(importlib.import_module(f"okta_risk_output.cli.{module}"), attribute)
        assert isinstance(command, click.Command), where
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.version_option(__version__, prog_name="okta-risk-output")
def cli() -> None:
    """Deliver risk signals from log pipelines to Okta's Risk Events API.

    Reads JSON lines (RiskEvents or flat {ip, riskLevel, message} signals), validates each
    against the RiskEvent schema, keeps them in a durable spool, and sends batches to
    POST /api/v1/risk/events/ip within Okta's limits. Bad lines go to a dead-letter file;
    logs go to stderr.
    """
    # early_signals has recorded signals since the start; commands that run a shipper take
    # them over in cli/runner.py, the others get Python's handlers back now.
    if click.get_current_context().invoked_subcommand not in _HANDLES_SIGNALS:
        early_signals.release()


def main() -> None:
    """The outermost call: click's main ends the process with the command's exit status."""
    cli(prog_name="okta-risk-output")
