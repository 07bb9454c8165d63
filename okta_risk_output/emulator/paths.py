"""The URL paths the emulator answers; every other path is Okta's 404."""

__all__ = ["CONTROL_PREFIX", "ENDPOINT", "TOKEN_PATH"]

ENDPOINT = "/api/v1/risk/events/ip"
"""The risk endpoint, the one Okta API the emulator stands in for."""
TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a URL path, not a secret
"""The org authorization server's token endpoint, for OAuth clients."""
CONTROL_PREFIX = "/_emulator/"
"""Inspection and steering for tests and demos (control.py); not part of Okta."""
