"""What tests share, besides fixtures: the fake clock, the emulator factory, settings for an
in-process run, a bounded wait for an effect, and the spool's accepted total read from
outside. Fixtures and hooks live in tests/conftest.py; host-only helpers in
tests/hosts/hostkit.py.

Waits in tests are of two kinds only: the fake clock, for every wait that is the program's
own timing (it moves when told and never sleeps), and wait_until, for an effect another
thread or process brings about (its timeout is a safety bound, never the test's timing).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from okta_risk_output.config.settings import Settings, build_settings
from okta_risk_output.emulator import Emulator, EmulatorConfig
from okta_risk_output.units import parse_rate

__all__ = [
    "TOKEN",
    "FakeClock",
    "accepted_total",
    "emulator",
    "make_settings",
    "wait_until",
]

TOKEN = "test-token"
"""The API token make_settings configures and emulator() accepts."""


class FakeClock:
    """A clock that moves only when told to; sleeping advances it and is recorded."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.wall = start
        self.mono = 1_000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        with self._lock:
            self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.wall += seconds
            self.mono += seconds


def emulator(*, clock: Callable[[], float] | None = None, **config: Any) -> Emulator:
    """The emulator on loopback, not yet started (`with emulator(...) as emu:`), taking TOKEN
    and allowing 100000/s unless told otherwise. `rate` may be given as text ("1000/s");
    `clock` is the emulator's wall clock (time.time unless given)."""
    config.setdefault("api_token", TOKEN)
    config.setdefault("rate", "100000/s")
    if isinstance(config["rate"], str):
        config["rate"] = parse_rate(config["rate"])
    if clock is None:
        return Emulator(EmulatorConfig(**config))
    return Emulator(EmulatorConfig(**config), clock=clock)


def make_settings(tmp_path: Path, org_url: str, **options: Any) -> Settings:
    """Settings for an in-process run against `org_url`, with a token the emulator accepts."""
    env = {"OKTA_API_TOKEN": TOKEN, "OKTA_ORG_URL": org_url}
    options.setdefault("dead_letter", str(tmp_path / "dead.jsonl"))
    options.setdefault("spool", str(tmp_path / "spool.db"))
    return build_settings(options, env)


def wait_until(
    check: Callable[[], bool],
    timeout: float = 30.0,
    what: str | Callable[[], str] = "the condition",
) -> None:
    """Poll for an effect another thread or process brings about (they offer no event to
    wait on), failing after `timeout`; `what` names it, and may be computed at failure."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"waited {timeout:g}s for {what if isinstance(what, str) else what()}"
            )
        pause.wait(0.02)


def accepted_total(spool: Path) -> int:
    """The spool's accepted total, read as another process would (0 before it exists)."""
    if not spool.exists():
        return 0
    with sqlite3.connect(spool, timeout=30) as db:
        try:
            row = db.execute("SELECT value FROM totals WHERE name = 'accepted'").fetchone()
        except sqlite3.OperationalError:
            return 0  # the schema is not there yet
    return int(row[0]) if row else 0
