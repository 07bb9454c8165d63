"""Where the program starts (`okta-risk-output`, `python -m okta_risk_output`), before the CLI.

Importing the CLI (click, requests, jsonschema, sqlite3...) takes a few tenths of a second.
Until cli/runner.py installs its handlers, a signal would get Python's defaults: SIGINT a
KeyboardInterrupt traceback, SIGTERM death without the summary. And a standard stream the
host closed (`2>&-`) leaves its descriptor free, so the first file opened (the dead-letter
file) would become fd 2 and take in every later message meant for stderr.

So this module imports only os, sys and early_signals (stdlib only), and `main()` first
opens /dev/null on any of fds 0-2 that is closed, then has early_signals record SIGTERM and
SIGINT, and only then imports the CLI (tests/crash/test_process_start.py checks all this).
"""

from __future__ import annotations

import os
import sys

from okta_risk_output.cli import early_signals

__all__ = ["main", "open_standard_fds"]


def main() -> None:
    open_standard_fds()
    early_signals.install()
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
