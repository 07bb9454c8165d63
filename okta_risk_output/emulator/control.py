"""The control API under /_emulator/, for tests and demos; not part of Okta, and without auth.

GET  requests       the accepted requests, as recorded
GET  stats          counts by status, events, subjects and rate windows
GET  oauth          the token endpoint's outcomes and registered clients
POST revoke-tokens  make every access token issued so far invalid
GET  script         the statuses still scripted
POST script         {"statuses": [503, 202]} replaces what is left of the script
POST reset          forget requests, stats and windows
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from okta_risk_output.emulator.messages import (
    Reply,
    Request,
    json_or_none,
    not_found,
    okta_error,
)
from okta_risk_output.emulator.paths import CONTROL_PREFIX
from okta_risk_output.emulator.state import EmulatorState

if TYPE_CHECKING:
    from okta_risk_output.emulator.oauth import AuthorizationServer

__all__ = ["control"]

# Each control path and the methods it answers; others get 405, unknown paths 404.
_METHODS = {
    "requests": "GET",
    "stats": "GET",
    "oauth": "GET",
    "revoke-tokens": "POST",
    "script": "GET POST",
    "reset": "POST",
}


def control(
    state: EmulatorState, request: Request, oauth: AuthorizationServer | None = None
) -> Reply:
    """The answer to a request under CONTROL_PREFIX."""
    method, path = request.method, request.path
    name = path[len(CONTROL_PREFIX) :]
    if name not in _METHODS:
        return Reply(404, not_found(path))
    if method not in _METHODS[name].split():
        return Reply(405, okta_error("E0000022"))
    if name == "requests":
        return Reply(200, state.requests())
    if name == "stats":
        return Reply(200, state.stats())
    if name == "oauth":
        return Reply(200, {} if oauth is None else oauth.stats())
    if name == "revoke-tokens":
        if oauth is not None:
            oauth.revoke_tokens()
        return Reply(200, {})
    if name == "reset":
        state.reset()
        return Reply(200, {})
    if method == "POST":
        parsed = json_or_none(request.body)
        statuses = parsed.get("statuses") if isinstance(parsed, dict) else None
        if not isinstance(statuses, list):
            return Reply(400, okta_error("E0000003", causes=['expected {"statuses": [503, 202]}']))
        try:
            state.script(statuses)
        except ValueError as problem:
            summary = "Api validation failed: statuses"
            return Reply(400, okta_error("E0000001", summary, [str(problem)]))
    return Reply(200, {"statuses": state.scripted()})
