"""The seam between the delivery loop and an output: what an output must give the loop.

The loop (deliverer.py) does what every output needs, whatever the endpoint: expire,
lease a due batch, pace (ratelimit.py and the spool's shared slot), send through the
sink, settle each signal's fate (settling.py), renew leases while it waits, split a
rejected request until the guilty stand alone (rejection.py), back off, stop. A `Sink`
does what is specific to one endpoint: how many signals a request carries and which
candidates fill it, the request itself (its body, the check of its body, sending it
with the output's credential), what the endpoint's answers mean (an `Outcome` from
retry.py), which signals a rejection names, and what the dead-letter file keeps of a
signal.

Okta's risk-events endpoint is one sink (risk_events.py). Another output (an IP network
zone, Shared Signals SETs) is another sink fed by the same loop from the same spool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from okta_risk_output.delivery.ratelimit import ServerBudget
from okta_risk_output.delivery.retry import Outcome
from okta_risk_output.spool.signals import Signal

__all__ = ["Answer", "Sink"]

RequestT = TypeVar("RequestT")
"""What a sink builds for one request (a JSON body for risk events); the loop only hands
it back to the same sink's `send`."""


@dataclass(frozen=True)
class Answer:
    """What one request came to."""

    outcome: Outcome
    budget: ServerBudget | None = None
    """What the answer said of the rate budget (Okta's X-Rate-Limit-* headers), for the
    pacing; None when it said nothing."""
    sent: bool = True
    """False when the request never left (its credential could not be had or could not go
    in a header): it is not counted as a request, and nothing is learnt for the pacing."""


class Sink(Protocol[RequestT]):
    """One output's side of delivery. Called from the delivery thread only."""

    @property
    def capacity(self) -> int:
        """Most signals one request can carry: a batch of this many is full."""
        ...

    def choose(self, candidates: list[Signal]) -> list[Signal]:
        """From ready candidates, in the spool's priority order, those that fill one
        request, in sending order. Any part of them must fit one request again: a
        rejected request is sent again in parts."""
        ...

    def prepare(self, signals: list[Signal]) -> RequestT | Outcome:
        """The request for `signals`, or the Outcome (REJECTED, with causes) when it
        cannot be built: no request is spent on a body that would fail its check."""
        ...

    def send(self, request: RequestT) -> Answer:
        """Send one request and say what its answer means. Never raises for an answer or
        a network error: those are Outcomes."""
        ...

    def named_in(self, signals: Sequence[Signal], causes: Sequence[str]) -> dict[int, list[str]]:
        """{signal id: the causes naming it} for the signals of a rejected request that
        its answer's causes name; {} when they name none (the loop then splits it)."""
        ...

    def record_of(self, signal: Signal) -> dict[str, Any]:
        """What the dead-letter file keeps of a signal this output gave up on: the signal
        as the output would send it."""
        ...

    def renew_credential(self) -> bool:
        """After a refused credential (401): renew it for the next request and return
        True, or return False when it cannot be renewed (an API token)."""
        ...
