"""Signals that come while the program is still starting, held until a command can act.

entry.py installs `record` for SIGTERM and SIGINT before the slow imports. The command that
runs then either takes the recorded signals over (`hand_over`, in cli/runner.py: a run
signalled while starting starts already shutting down) or, handling no signal itself, gets
the handlers from before back, a signal recorded meanwhile raised again (`release`, from the
group in cli/main.py). Stdlib only: this runs before anything slow is imported.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

__all__ = ["hand_over", "install", "release"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []
_before: dict[signal.Signals, signal._HANDLER] = {}
"""The handlers install() replaced; empty when the program did not start in entry.main()."""


def install() -> None:
    """Record SIGTERM and SIGINT from now on; a second one exits at once, as it does later."""
    for signum in _SIGNALS:
        _before[signum] = signal.signal(signum, _record)


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
    restore when it is done (those from before install(), rather than the recording ones)."""
    received = list(_received)
    _received.clear()
    restore = {
        signum: _before.get(signum, signal.SIG_DFL) if handler is _record else handler
        for signum, handler in replaced.items()
    }
    return received, restore


def release() -> None:
    """For commands that handle no signal themselves: the handlers from before install()
    back, and a signal received meanwhile raised again, to act as it would have."""
    for which, handler in _before.items():
        if signal.getsignal(which) is _record:
            signal.signal(which, handler)
    received = list(_received)
    _received.clear()
    for signum in received:
        signal.raise_signal(signum)
