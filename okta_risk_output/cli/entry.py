"""Where the program starts (`okta-risk-output`, `python -m okta_risk_output`), before the CLI.

Importing the CLI (click, requests, jsonschema, sqlite3...) takes a few tenths of a second.
Until cli.py installs its handlers, a signal would get Python's defaults: SIGINT a
KeyboardInterrupt traceback, SIGTERM death without the summary. And a standard stream the
host closed (`2>&-`) leaves its descriptor free, so the first file opened (the dead-letter
file) would become fd 2 and take in every later message meant for stderr.

So this module imports only os, signal and sys, and `main()` first opens /dev/null on any of
fds 0-2 that is closed, then installs SIGTERM/SIGINT handlers that only record the signal
(a second one exits at once, as it does later), and only then imports the CLI. The command
that runs takes the recorded signal over (`hand_over`, in cli.py's run under signals), so a
run signalled while starting starts already shutting down; the other commands get the
handlers from before back, and a signal recorded meanwhile is raised again (`release`).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

__all__ = ["hand_over", "main", "release"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []
_before: dict[signal.Signals, signal._HANDLER] = {}
"""The handlers main() replaced; empty when the program did not start in main()."""


def main() -> None:
    open_standard_fds()
    for signum in _SIGNALS:
        _before[signum] = signal.signal(signum, _record)
    from okta_risk_output.cli.main import main as cli_main  # the slow import, now covered

    cli_main()


def open_standard_fds() -> None:
    """Put /dev/null on each of fds 0-2 that is closed, before anything else is opened."""
    closed = [fd for fd in (0, 1, 2) if not _is_open(fd)]
    if not closed:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in closed:
        if fd != null:
            os.dup2(null, fd)  # inheritable, as a standard stream is
        else:
            os.set_inheritable(fd, True)
    if null not in closed:
        os.close(null)
    # Python found these closed at start and set their sys streams to None.
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - likewise
    if sys.stderr is None:
        sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _record(signum: int, _frame: FrameType | None) -> None:
    # Append first, then count: a nested call between the two still sees two signals.
    _received.append(signum)
    if len(_received) > 1:
        os.write(2, f"ERROR second {signal.Signals(signum).name}: exiting now\n".encode())
        os._exit(128 + signum)


def hand_over(
    replaced: dict[signal.Signals, signal._HANDLER],
) -> tuple[list[int], dict[signal.Signals, signal._HANDLER]]:
    """For code that has just installed its own handlers, which replaced `replaced`: the
    signals received since the start, to act on as if they came now, and the handlers to
    restore when it is done (those from before main(), rather than the recording ones)."""
    received = list(_received)
    _received.clear()
    restore = {
        signum: _before.get(signum, signal.SIG_DFL) if handler is _record else handler
        for signum, handler in replaced.items()
    }
    return received, restore


def release() -> None:
    """For commands that handle no signal themselves: the handlers from before main() back,
    and a signal received meanwhile raised again, to act as it would have."""
    for which, handler in _before.items():
        if signal.getsignal(which) is _record:
            signal.signal(which, handler)
    received = list(_received)
    _received.clear()
    for signum in received:
        signal.raise_signal(signum)
