"""Shared test helpers: a fake clock (no test ever sleeps for timing) and settings."""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.config.settings import Settings, build_settings
from okta_risk_output.emulator import Emulator, EmulatorConfig
from okta_risk_output.observe.logs import setup_logging
from okta_risk_output.units import parse_rate

TOKEN = "test-token"
"""The API token make_settings gives and emulator() accepts."""


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line of the test, DEBUG and up."""
    stream = io.StringIO()
    setup_logging("DEBUG", stream)
    yield stream
    setup_logging()


def emulator(**config: Any) -> Emulator:
    """The emulator on loopback, taking TOKEN and (unless told) any rate."""
    config.setdefault("api_token", TOKEN)
    config.setdefault("rate", parse_rate("100000/s"))
    return Emulator(EmulatorConfig(**config))


def make_settings(tmp_path: Any, org_url: str, **options: Any) -> Settings:
    """Settings for an in-process run against `org_url`, with a token the emulator accepts."""
    env = {"OKTA_API_TOKEN": TOKEN, "OKTA_ORG_URL": org_url}
    options.setdefault("dead_letter", str(tmp_path / "dead.jsonl"))
    options.setdefault("spool", str(tmp_path / "spool.db"))
    return build_settings(options, env)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """A bounded wait for something another process or the emulator does (they offer no
    event to wait on)."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError("timed out waiting")


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
