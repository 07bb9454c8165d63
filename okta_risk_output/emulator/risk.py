"""Okta's answers on POST /api/v1/risk/events/ip, every check in Okta's order: the endpoint
switched off, the method, a scripted or random fault, the credential, the rate limit, the
body (schema, then the org's own address rules), and at last 202 with the request recorded.

An outage and unknown paths are the whole org's answer, so routes.py decides those first.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import replace
from typing import TYPE_CHECKING

from okta_risk_output.emulator.messages import (
    Access,
    RateInfo,
    Reply,
    Request,
    json_or_none,
    okta_error,
)
from okta_risk_output.emulator.state import EmulatorState
from okta_risk_output.intake.validation import request_validator

if TYPE_CHECKING:
    from okta_risk_output.emulator.oauth import AuthorizationServer

__all__ = ["respond"]

# What a scripted status looks like; other 4xx fall back to E0000001 and 5xx to E0000009.
_SCRIPT_CODES = {
    400: "E0000001",
    401: "E0000011",
    403: "E0000006",
    404: "E0000007",
    405: "E0000022",
    429: "E0000047",
}


def respond(
    state: EmulatorState, request: Request, now: float, oauth: AuthorizationServer | None
) -> Reply:
    """The risk endpoint's answer to `request`, at `now`. Without `oauth` only SSWS tokens
    are checked."""
    config = state.config
    if config.endpoint_off:
        return Reply(404, okta_error("E0000007"), state.peek(now))
    if request.method != "POST":
        return Reply(405, okta_error("E0000022"), state.peek(now))
    scripted = state.take_scripted()
    if scripted is not None:
        return _scripted(state, now, scripted, request.body)
    if state.roll_failure():
        return Reply(503, okta_error("E0000009"), state.peek(now))
    access = _access(state, oauth, request)
    if isinstance(access, Reply):
        return replace(access, rate=state.peek(now))
    admission = state.admit(now)
    if not admission.allowed:
        return Reply(429, okta_error("E0000047"), admission.info, headers=access.headers)
    return replace(
        _accept(state, now, request.body, admission.info, access.client_id),
        headers=access.headers,
    )


def _access(
    state: EmulatorState, oauth: AuthorizationServer | None, request: Request
) -> Access | Reply:
    """Who may send: an OAuth token the emulator issued, or an SSWS API token."""
    authorization = request.authorization
    scheme, _, credential = (authorization or "").strip().partition(" ")
    if scheme.lower() in ("bearer", "dpop") and oauth is not None:
        return oauth.check_access(
            scheme=scheme,
            token=credential.strip(),
            method=request.method,
            url=request.url,
            dpop=request.dpop,
        )
    config = state.config
    if _authorized(authorization, config.api_token, any_token=config.any_ssws_token):
        return Access()
    return Reply(401, okta_error("E0000011"))


def _authorized(header: str | None, token: str | None, *, any_token: bool) -> bool:
    scheme, _, credential = (header or "").strip().partition(" ")
    credential = credential.strip()
    if scheme.upper() != "SSWS" or not credential:
        return False
    if token is None:
        return any_token
    return hmac.compare_digest(credential.encode(), token.encode())


def _accept(
    state: EmulatorState, now: float, body: bytes, rate: RateInfo, client_id: str | None = None
) -> Reply:
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError too
        return Reply(400, okta_error("E0000003"), rate)
    problems = request_validator().errors(events)
    causes = [f"{problem.path}: {problem.message}" for problem in problems]
    if not causes:
        # Okta refuses a whole request over one address its own rules reject.
        causes = [
            f"$[{i}].subjects[{j}].ip: {subject['ip']} is not accepted by this org"
            for i, event in enumerate(events)
            for j, subject in enumerate(event["subjects"])
            if state.rejected_ip(subject["ip"])
        ]
    if causes:
        return Reply(400, okta_error("E0000001", causes=causes), rate)
    state.record(now, events, client_id)
    return Reply(202, None, rate)


def _scripted(state: EmulatorState, now: float, status: int, body: bytes) -> Reply:
    if 200 <= status < 300:
        # A scripted success stands for a real one: it spends budget and is recorded.
        rate = state.admit(now, force=True).info
        events = json_or_none(body)
        if isinstance(events, list):
            state.record(now, events)
        return Reply(status, None, rate)
    peeked = state.peek(now)
    if status == 429:
        return Reply(429, okta_error("E0000047"), RateInfo(peeked.limit, 0, peeked.reset))
    code = _SCRIPT_CODES.get(status, "E0000001" if status < 500 else "E0000009")
    return Reply(status, okta_error(code), peeked)
