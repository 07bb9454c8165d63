"""After Okta rejects a request (an Okta-shaped 400): finding which of its signals are guilty.

Two ways, cheapest first:

1. The answer names them: the sink reads its causes (for risk events, an errorCause that
   quotes a signal's IP or points at `[i].subjects[j]` of the body: risk_events.py). Those
   are condemned; the rest are sent again.
2. Otherwise the request is split in halves until the guilty stand alone (bisection).
   When Okta rejects every subject, plain bisection costs 2n - 1 requests (1,999 for a
   request of 1,000, an hour of the org's budget). So the search first goes down one
   side only (n/2, n/4, ... 1: about log2(n) requests); if the single signal found there
   is rejected with the very answer the whole request got, two more signals (the middle
   and the last one) are sent alone. Rejected the same way too, with no answer on the
   way naming a subject, the request is judged to fail as a whole: every signal in it is
   dead-lettered with that answer. Any accepted part, or any different answer, ends the
   probe and the search goes on as plain bisection.

The search is the loop's side of the seam (delivery/sink.py): it knows signals and answers,
never a request's layout, so every output that sends many signals per request shares it.
"""

from __future__ import annotations

from collections.abc import Sequence

from okta_risk_output.spool.signals import Signal

__all__ = ["Search"]

_PROBES = 2
"""Signals sent alone, beside the one the descent found, before a whole failure is judged."""


class Search:
    """One bisection, and whether it still looks like a request that fails as a whole."""

    def __init__(self, whole: Sequence[Signal], answer: str) -> None:
        self.answer = answer
        """Okta's answer to the whole request: status, code, summary and causes."""
        self._whole = list(whole)
        self._uniform = True
        """Every answer so far was `answer`, and nothing was accepted."""
        self._probes: set[int] | None = None
        """Signal ids sent alone to test the whole-failure guess, once it is made."""

    @property
    def probing(self) -> bool:
        return self._uniform and self._probes is not None

    def ruled_out(self) -> None:
        """Something was accepted, or Okta named subjects: the answers depend on them."""
        self._uniform = False

    def rejected(self, answer: str) -> None:
        if answer != self.answer:
            self._uniform = False

    def single_rejected(self, signal: Signal, answer: str, pending: list[list[Signal]]) -> bool:
        """A signal alone was rejected. Returns True when the request is now judged to fail
        as a whole; may move probe signals to the top of `pending` (they go next)."""
        self.rejected(answer)
        if not self._uniform:
            return False
        if self._probes is None:
            self._probes = set()
            for probe in self._pick_probes(signal, pending):
                _take_out(probe, pending)
                pending.append([probe])
                self._probes.add(probe.id)
            return not self._probes  # nothing else to test: the request was that signal
        self._probes.discard(signal.id)
        return not self._probes

    def _pick_probes(self, found: Signal, pending: list[list[Signal]]) -> list[Signal]:
        waiting = {s.id for members in pending for s in members}
        picks: list[Signal] = []
        for index in (len(self._whole) - 1, len(self._whole) // 2):
            candidate = self._whole[index]
            if candidate.id in waiting and candidate.id != found.id and candidate not in picks:
                picks.append(candidate)
        return picks[:_PROBES]


def _take_out(signal: Signal, pending: list[list[Signal]]) -> None:
    for members in pending:
        if signal in members:
            members.remove(signal)
    pending[:] = [members for members in pending if members]
