"""Host adapters: the thin part that speaks each host's protocol around the one engine.

    omprog.py    rsyslog's omprog with confirmMessages: OK per message once it is durable
    fluentd.py   Fluentd's out_exec: a chunk file per run, remembered by its digest
    splunk.py    a Splunk custom alert action: JSON payload on stdin, gzipped CSV results
    commands.py  the click commands (omprog, fluentd, splunk) that cli.py registers

syslog-ng's program(), Logstash's pipe, and Vector or Fluent Bit piping JSON lines need no
adapter: they use `okta-risk-output run` (see docs/hosts.md).
"""

from __future__ import annotations

from typing import Protocol

from okta_risk_output.intake.loop import LineOutcome
from okta_risk_output.intake.reader import Line

__all__ = ["Accepting"]


class Accepting(Protocol):
    """What an adapter needs of intake: an `Intake`, whose outcomes are durable when
    returned (tests pass a fake)."""

    def accept_many(self, lines: list[Line]) -> list[LineOutcome]: ...
