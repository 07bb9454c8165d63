"""`Secret`: a credential's text, which never shows in a repr, str, log line or error.

A module of its own, importing nothing, so that everything holding a credential (the auth
objects, the token cache, the settings, the Splunk host) can use it without pulling in more.
"""

from __future__ import annotations

__all__ = ["Secret"]


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
