"""What an adapter needs of intake: `accept_many`, whose outcomes are durable when returned."""

from __future__ import annotations

from typing import Protocol

from okta_risk_output.intake.loop import LineOutcome
from okta_risk_output.intake.reader import Line

__all__ = ["Accepting"]


class Accepting(Protocol):
    """An `Intake` (tests pass a fake)."""

    def accept_many(self, lines: list[Line]) -> list[LineOutcome]: ...
