"""rsyslog's omprog with confirmMessages="on": an answer per message, given only once the
message is durable, so rsyslog keeps (and retries) whatever we have not taken.

    <= OK                       ready: the spool is open
    => {"ip": "203.0.113.9", ...}
    <= OK                       committed to the spool, or written to the dead-letter file
    => {"ip": ...}
    <= ...OK                    keep-alive dots while an answer takes long (a full spool under
                                the block policy, a spool locked by another process)
    => {"ip": ...}
    <= ERROR spool full: ...    not taken; rsyslog retries it after action.resumeInterval

With useTransactions="on" the messages of a batch are held in memory, answered DEFER_COMMIT,
and stored in one spool transaction at the commit mark, which alone is answered OK:

    => BEGIN TRANSACTION        <= OK
    => {"ip": ...}              <= DEFER_COMMIT
    => COMMIT TRANSACTION       <= OK     (or an error line: rsyslog resends the whole batch)

The protocol is rsyslog's plugins/external/INTERFACE.md. Answers go to stdout, which
nothing else in the program writes to; logs go to stderr (omprog's `output=` file).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import BinaryIO

from okta_risk_output.errors import OktaRiskOutputError
from okta_risk_output.hosts.accepting import Accepting
from okta_risk_output.intake.loop import MAX_BATCH, LineOutcome
from okta_risk_output.intake.reader import Line, read_lines

__all__ = ["SOURCE", "Marks", "OmprogSession", "Replies"]

SOURCE = "<omprog>"
"""How lines from rsyslog are named in logs and the dead-letter file."""

_TAKEN = frozenset(
    {LineOutcome.BLANK, LineOutcome.DEAD_LETTERED, LineOutcome.SKIPPED, LineOutcome.SPOOLED}
)
"""Outcomes that let rsyslog forget a message: it is durable, or by design not for Okta."""


@dataclass(frozen=True)
class Marks:
    """useTransactions' mark lines (omprog's beginTransactionMark, commitTransactionMark)."""

    begin: bytes = b"BEGIN TRANSACTION"
    commit: bytes = b"COMMIT TRANSACTION"


class Replies:
    """Answer lines on stdout, and keep-alive dots while an answer is owed.

    rsyslog restarts a program that stays silent past confirmTimeout (10 s by default) and
    resends the message, so a slow answer is preceded by a dot every `keepalive` seconds;
    rsyslog ignores leading dots. Dots and answers are written under one lock, so a dot
    never lands inside an answer.
    """

    def __init__(self, out: BinaryIO, keepalive: float) -> None:
        self._out = out
        self._keepalive = keepalive
        self._cond = threading.Condition()
        self._owed_since: float | None = None
        self._closed = False
        self._beats = threading.Thread(target=self._beat, name="keepalive", daemon=True)
        self._beats.start()

    def owe(self) -> None:
        """An answer is due from now on: dots follow until `answer` is called."""
        with self._cond:
            self._owed_since = time.monotonic()
            self._cond.notify()

    def answer(self, text: str) -> None:
        with self._cond:
            self._owed_since = None
            self._write(text.encode("utf-8", "replace") + b"\n")
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _beat(self) -> None:
        with self._cond:
            while not self._closed:
                if self._owed_since is None:
                    self._cond.wait()
                    continue
                due = self._owed_since + self._keepalive
                now = time.monotonic()
                if now < due:
                    self._cond.wait(due - now)
                    continue
                self._write(b".")
                self._owed_since = now

    def _write(self, data: bytes) -> None:
        # An unbuffered stream may take part of the bytes; rsyslog must get whole lines.
        while data:
            written = self._out.write(data)
            data = data[written:]
        self._out.flush()


class OmprogSession:
    """Reads rsyslog's messages from `stream` and answers each through `replies`."""

    def __init__(
        self,
        replies: Replies,
        *,
        max_line_bytes: int,
        stop: threading.Event,
        marks: Marks | None = None,
    ) -> None:
        self._replies = replies
        self._max_line_bytes = max_line_bytes
        self._stop = stop
        self._marks = marks
        """None: each message answered on its own; else useTransactions' marks."""

    def serve(self, stream: BinaryIO, intake: Accepting) -> None:
        """Until EOF or a shutdown. Nothing is confirmed that is not durable, so a message
        held in an unfinished transaction at EOF is simply never confirmed (rsyslog keeps it).
        """
        self._replies.answer("OK")
        held: list[Line] | None = None
        for line in read_lines(stream, SOURCE, self._max_line_bytes):
            if self._stop.is_set():
                return
            mark = self._mark(line)
            if mark == "begin":
                # A new batch drops one rsyslog never committed; it resends those messages.
                held = []
                self._replies.answer("OK")
            elif mark == "commit":
                self._replies.answer(self._store(held or [], intake))
                held = None
            elif held is not None:
                held.append(line)
                self._replies.answer("DEFER_COMMIT")
            else:
                self._replies.answer(self._store([line], intake))

    def _mark(self, line: Line) -> str | None:
        if self._marks is None or line.oversized:
            return None
        text = line.data.strip()
        if text == self._marks.begin:
            return "begin"
        if text == self._marks.commit:
            return "commit"
        return None

    def _store(self, lines: list[Line], intake: Accepting) -> str:
        """The answer for `lines`, given once they are durable: OK, or an error line."""
        self._replies.owe()
        outcomes: list[LineOutcome] = []
        try:
            for start in range(0, len(lines), MAX_BATCH):
                outcomes += intake.accept_many(lines[start : start + MAX_BATCH])
        except OktaRiskOutputError as exc:
            # Not stored: say so, so rsyslog keeps the message; then stop (exit 6 for a
            # write failure), and rsyslog restarts the program after resumeInterval.
            self._replies.answer("ERROR " + " ".join(str(exc).split()))
            raise
        if LineOutcome.STOPPED in outcomes:
            # A shutdown, or (block policy) a full spool while delivery has stopped.
            return "ERROR not stored: shutting down, or the spool is full and delivery stopped"
        refused = sum(1 for o in outcomes if o not in _TAKEN)
        if refused:
            return f"ERROR spool full: {refused} of {len(lines)} refused by the overflow policy"
        return "OK"
