"""Okta's risk-events endpoint (POST /api/v1/risk/events/ip) as a delivery `Sink`.

Everything here is that endpoint's business, not the loop's: a request of up to 20
RiskEvents of 50 subjects (packing.py), its body checked against
schemas/risk_events_request.schema.json before it is sent, sending it through the Okta
client, what the endpoint's answers mean (retry.classify), which subjects an Okta 400's
errorCauses name (by address or by their place in the body), and the one-subject
RiskEvent the dead-letter file keeps of a signal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import requests

from okta_risk_output.clock import Clock
from okta_risk_output.delivery.packing import PackLimits, event_of, pack, request_body
from okta_risk_output.delivery.ratelimit import read_budget
from okta_risk_output.delivery.retry import Action, Outcome, classify
from okta_risk_output.delivery.sink import Answer, Sink
from okta_risk_output.errors import DeliveryStopped, ExitStatus
from okta_risk_output.intake.validation import request_validator
from okta_risk_output.okta.client import ApiClient
from okta_risk_output.spool.signals import Signal

__all__ = ["RiskEventsSink", "named_in_causes"]

Body = list[dict[str, Any]]
"""One request's body: its RiskEvents."""

_SUBJECT_PATH = re.compile(r"\[(\d+)\]\s*\.?\s*subjects\s*\[(\d+)\]")
_ADDRESS_RUN = re.compile(r"[0-9A-Fa-f:.]{2,}")


class RiskEventsSink:
    def __init__(
        self, *, client: ApiClient, packing: PackLimits, clock: Clock, reset_wait_max: float
    ) -> None:
        self._client = client
        self._packing = packing
        self._clock = clock
        self._reset_wait_max = reset_wait_max
        self._reached = False
        """Whether any request of this run has had an answer (a wrong host never has)."""
        """The cap on a server-directed wait (a Reset), for the budget and the answers."""

    @property
    def capacity(self) -> int:
        return self._packing.max_signals

    def choose(self, candidates: list[Signal]) -> list[Signal]:
        events, _ = pack(candidates, self._packing)
        return [signal for members in events for signal in members]

    def prepare(self, signals: list[Signal]) -> Body | Outcome:
        events, left = pack(signals, self._packing)
        assert not left, "a part of a packed lease always packs again"
        body = request_body(events)
        problems = request_validator().errors(body)
        if problems:
            # Cannot happen for signals that passed intake; if it does, no request is
            # spent on it: the same bisection isolates the culprit and dead-letters it.
            causes = tuple(f"{e.path}: {e.message}" for e in problems)
            return Outcome(Action.REJECTED, "the request body fails the schema", causes=causes)
        return body

    def send(self, request: Body) -> Answer:
        response: requests.Response | None = None
        error: Exception | None = None
        try:
            response = self._client.post(request)
        except requests.RequestException as exc:
            error = exc
        except DeliveryStopped as exc:  # the OAuth token endpoint refused us for good
            outcome = Outcome(Action.STOP, str(exc), exc.status_code, exit_status=exc.exit_status)
            return Answer(outcome, sent=False)
        except (ValueError, UnicodeError):
            # The credential cannot go in a header. Not quoted: the error would quote it.
            reason = "the credential cannot be sent in an HTTP header (invalid characters)"
            return Answer(
                Outcome(Action.STOP, reason, exit_status=ExitStatus.AUTH_FAILED), sent=False
            )
        budget = None
        if response is not None:
            self._reached = True
            budget = read_budget(response, self._clock.time(), reset_cap=self._reset_wait_max)
        outcome = classify(
            response,
            error,
            reset_wait_max=self._reset_wait_max,
            oauth=self._client.auth.renewable,
            url=self._client.url,
            reached=self._reached,
        )
        return Answer(outcome, budget)

    def named_in(self, signals: Sequence[Signal], causes: Sequence[str]) -> dict[int, list[str]]:
        return named_in_causes(signals, self._packing, causes)

    def record_of(self, signal: Signal) -> dict[str, Any]:
        return event_of([signal])

    def renew_credential(self) -> bool:
        auth = self._client.auth
        if not auth.renewable:
            return False
        auth.renew()
        return True


if TYPE_CHECKING:
    _IS_A_SINK: type[Sink[Body]] = RiskEventsSink
    """mypy checks here that this output keeps the whole contract of sink.py."""


def named_in_causes(
    part: Sequence[Signal], limits: PackLimits, causes: Sequence[str]
) -> dict[int, list[str]]:
    """{signal id: the causes naming it} for the signals of `part` that Okta's errorCauses
    name, by address or by their place in the request body (as `pack` lays it out)."""
    if not causes:
        return {}
    events, _ = pack(part, limits)
    by_ip: dict[str, list[Signal]] = {}
    for signal in part:
        by_ip.setdefault(signal.ip, []).append(signal)
    named: dict[int, list[str]] = {}
    for cause in causes:
        hits: set[int] = set()
        for i, j in _SUBJECT_PATH.findall(cause):
            event, subject = int(i), int(j)
            if event < len(events) and subject < len(events[event]):
                hits.add(events[event][subject].id)
        # Addresses as Okta echoes them: runs of hex digits, dots and colons, with any
        # punctuation that ends a sentence taken off. One dictionary look-up per run.
        for run in _ADDRESS_RUN.findall(cause):
            for text in {run, run.rstrip(".:"), run.strip(".:")}:
                hits.update(signal.id for signal in by_ip.get(text, ()))
        for signal_id in hits:
            named.setdefault(signal_id, []).append(cause)
    return named
