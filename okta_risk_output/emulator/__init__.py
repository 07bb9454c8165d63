"""A local stand-in for an Okta org: POST /api/v1/risk/events/ip, the OAuth token endpoint,
and a control API for tests; for tests, demos and dry runs.

    server.py    Emulator: runs the org on a thread, wiring the parts below together
    config.py    EmulatorConfig and RegisteredClient: what the emulator can be told
    routes.py    which part answers which path; an outage takes the whole org down
    risk.py      Okta's answers on the risk endpoint, every check in Okta's order
    state.py     what the risk endpoint remembers: rate windows, faults, records, stats
    control.py   the /_emulator/ paths tests use to read records and steer faults
    handler.py   HTTP framing: bytes to a Request, a Reply to bytes
    messages.py  Request, Reply, Access, and Okta's two error-body shapes
    paths.py     the URL paths
    oauth.py     the token endpoint (client assertions, token issue) and the token check
    dpop.py      DPoP proof checks: typ, key, htm, htu, age, ath, jti replay; nonces
    clients.py   the registered OAuth clients' keys; new_client makes a key pair
    claims.py    what oauth.py and dpop.py share: signature-only decoding, spent jtis

It may import the kernel modules, observe, intake (the request schema) and okta.keys (JWKs);
today it uses units, intake.validation and okta.keys. Nothing from delivery, spool, the
top-level config package or cli: the click command lives in `okta_risk_output.cli.emulator`
(`okta-risk-output emulator`).

The public names below are importable from this package, as tests and the command import
them, but each is loaded from its module on first use (PEP 562): importing the package imports
none of its modules, so a caller that needs only EmulatorConfig loads no HTTP server, and
PyJWT loads only when an Emulator is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from okta_risk_output.lazy import lazy_names

if TYPE_CHECKING:
    from okta_risk_output.emulator.clients import new_client
    from okta_risk_output.emulator.config import (
        DEFAULT_RATE,
        EmulatorConfig,
        OutageMode,
        RegisteredClient,
        check_statuses,
        normalize_ip,
    )
    from okta_risk_output.emulator.messages import RateInfo, okta_error
    from okta_risk_output.emulator.paths import CONTROL_PREFIX, ENDPOINT, TOKEN_PATH
    from okta_risk_output.emulator.server import Emulator
    from okta_risk_output.emulator.state import EmulatorState

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_RATE",
    "ENDPOINT",
    "TOKEN_PATH",
    "Emulator",
    "EmulatorConfig",
    "EmulatorState",
    "OutageMode",
    "RateInfo",
    "RegisteredClient",
    "check_statuses",
    "new_client",
    "normalize_ip",
    "okta_error",
]

# Each public name -> the module it lives in.
_HOMES = {
    "CONTROL_PREFIX": "paths",
    "DEFAULT_RATE": "config",
    "ENDPOINT": "paths",
    "TOKEN_PATH": "paths",
    "Emulator": "server",
    "EmulatorConfig": "config",
    "EmulatorState": "state",
    "OutageMode": "config",
    "RateInfo": "messages",
    "RegisteredClient": "config",
    "check_statuses": "config",
    "new_client": "clients",
    "normalize_ip": "config",
    "okta_error": "messages",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)
