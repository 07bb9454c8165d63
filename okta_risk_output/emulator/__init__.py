"""A local stand-in for Okta's POST /api/v1/risk/events/ip, for tests, demos and dry runs.

The click command lives in `okta_risk_output.cli.emulator` (`okta-risk-output emulator`);
this package never imports the command line.
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
