"""Credentials. A Secret never shows its value in a repr, str, log line or error."""

from __future__ import annotations

import requests
from requests.auth import AuthBase

__all__ = ["Secret", "SswsAuth"]


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SswsAuth(AuthBase):
    """Okta API token: `Authorization: SSWS <token>`."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"SSWS {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "SswsAuth(token=Secret('********'))"
