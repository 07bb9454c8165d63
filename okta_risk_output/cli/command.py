"""The click Command every command here is: its options in `--help` sections by concern, and
the exit status its callback returns made the exit code.

A callback returns its exit status (an ExitStatus, or a host's own code) rather than calling
sys.exit: Command.invoke hands a non-zero one to click (ctx.exit), whose main() ends the
process with it; CliRunner sees it as the result's exit_code. Also here: the exit-code and
environment tables that end `--help`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from okta_risk_output.config.table import SETTINGS, Setting
from okta_risk_output.errors import ExitStatus

__all__ = ["Command", "SectionedOption", "environment_table", "exit_code_table"]

OPTIONS = "Options"
"""The section of a command's own options (and of -h)."""


class SectionedOption(click.Option):
    """An option that `--help` lists under `section` (the setting's group)."""

    def __init__(self, *args: Any, section: str = OPTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class Command(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        status = super().invoke(ctx)
        if isinstance(status, int) and status != ExitStatus.OK:
            ctx.exit(int(status))
        return status

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """One section per concern, in the order the options come: the command's own first."""
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                section = param.section if isinstance(param, SectionedOption) else OPTIONS
                sections.setdefault(section, []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)


def exit_code_table() -> str:
    rows = "\n".join(f"  {s.value}  {s.meaning}" for s in ExitStatus)
    return f"\b\nExit codes:\n{rows}"


def environment_table(settings: Iterable[Setting] = SETTINGS) -> str:
    """Each variable and the flag it stands for; the secrets have a variable only."""
    rows = "\n".join(
        f"  {s.env:<34} "
        + ("the secret itself (no flag: it would show in `ps`)" if s.env_only else s.flag)
        for s in settings
        if s.env
    )
    return f"\b\nEnvironment (a flag wins over its variable):\n{rows}"


EPILOG = exit_code_table() + "\n\n" + environment_table()
"""The end of `--help` for the group and the commands that run a shipper."""
