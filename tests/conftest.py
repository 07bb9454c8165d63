"""Fixtures and hooks for every test; the helpers they are built on are in tests/support.py.

Never imported by name: pytest loads it (as tests.conftest) and hands its fixtures to tests.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from okta_risk_output.emulator import Emulator
from okta_risk_output.observe.logs import setup_logging
from tests.support import FakeClock, emulator


def pytest_configure(config: pytest.Config) -> None:
    # The program keeps compiled validators in the user's cache folder (intake/code_cache.py);
    # the tests, and every program they start, keep theirs in one folder of this run (made
    # by the main process; xdist's workers inherit it).
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _made.append(tempfile.mkdtemp(prefix="okta-risk-output-cache-"))
        os.environ["XDG_CACHE_HOME"] = _made[0]
    config.addinivalue_line(
        "markers",
        "emulator(**config): options for the `emu` fixture's emulator (EmulatorConfig "
        "fields; rate may be text), on a test or a whole module (pytestmark)",
    )


_made: list[str] = []


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)


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


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running emulator for the test: support.emulator()'s defaults, changed by the
    closest `@pytest.mark.emulator(...)` (the test's, else its module's)."""
    marker = request.node.get_closest_marker("emulator")
    with emulator(**(marker.kwargs if marker else {})) as running:
        yield running
