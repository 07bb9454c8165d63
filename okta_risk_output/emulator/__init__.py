"""A local stand-in for Okta's POST /api/v1/risk/events/ip, for tests, demos and dry runs.

The click command lives in `okta_risk_output.emulator.command` and is not imported here, so
that `python -m okta_risk_output.emulator.command` runs it without a double import.
"""

from okta_risk_output.emulator.server import CONTROL_PREFIX, ENDPOINT, Emulator, okta_error
from okta_risk_output.emulator.state import (
    DEFAULT_RATE,
    EmulatorConfig,
    EmulatorState,
    RateInfo,
)

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_RATE",
    "ENDPOINT",
    "Emulator",
    "EmulatorConfig",
    "EmulatorState",
    "RateInfo",
    "okta_error",
]
