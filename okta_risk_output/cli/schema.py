"""`schema`: the JSON Schema files that are the one place the rules of a line live."""

from __future__ import annotations

import click

from okta_risk_output.cli.command import Command
from okta_risk_output.intake.validation import EVENT_SCHEMA, REQUEST_SCHEMA, schema_text

__all__ = ["schema"]


@click.command("schema", cls=Command)
@click.argument("which", type=click.Choice(["event", "request"]), default="event")
def schema(which: str) -> None:
    """Print the JSON Schema of one RiskEvent (event) or of a request body (request)."""
    click.echo(schema_text(EVENT_SCHEMA if which == "event" else REQUEST_SCHEMA), nl=False)
