"""Which part of the emulator answers a request, and what the whole org does around it.

The control paths answer even during an outage. Everything else is Okta's: an outage takes
the whole org down, token endpoint included; then the token endpoint (oauth.py), unknown
paths (404), and the risk endpoint (risk.py). The stats count what the risk endpoint and
unknown paths answered; the token endpoint keeps its own.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from okta_risk_output.emulator.control import control
from okta_risk_output.emulator.messages import Reply, Request, not_found, okta_error
from okta_risk_output.emulator.paths import CONTROL_PREFIX, ENDPOINT, TOKEN_PATH
from okta_risk_output.emulator.risk import respond
from okta_risk_output.emulator.state import EmulatorState

if TYPE_CHECKING:
    from okta_risk_output.emulator.oauth import AuthorizationServer

__all__ = ["route"]


def route(state: EmulatorState, oauth: AuthorizationServer | None, request: Request) -> Reply:
    """The answer to `request`; without `oauth` there is no token endpoint."""
    if request.path.startswith(CONTROL_PREFIX):
        return control(state, request, oauth)
    reply = _okta(state, oauth, request)
    if request.path != TOKEN_PATH:
        state.count("reset" if reply.drop else reply.status)
    if state.config.latency > 0:
        time.sleep(state.config.latency)
    return reply


def _okta(state: EmulatorState, oauth: AuthorizationServer | None, request: Request) -> Reply:
    now = state.now()
    if state.outage_active(now):
        if state.config.outage_mode == "reset":
            return Reply(0, drop=True)
        return Reply(503, okta_error("E0000009"), state.peek(now))
    if request.path == TOKEN_PATH and oauth is not None:
        return oauth.token(request)
    if request.path != ENDPOINT:
        return Reply(404, not_found(request.path), state.peek(now))
    return respond(state, request, now, oauth)
