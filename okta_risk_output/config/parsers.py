"""The parsers of config/table.py: a setting's text in, its value out.

Each raises ValueError saying what is wrong with the text (build_settings puts the flag in
front: `--linger: 'soon' is not a duration ...`). A parser that returns None says "not set":
an empty value, which the setting's default then replaces, as an empty variable is.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from okta_risk_output.units import parse_duration, parse_rate, parse_size

__all__ = [
    "OneOf",
    "duration",
    "existing_file",
    "flag",
    "int_between",
    "log_level",
    "lowercase",
    "minimum_int",
    "one_of",
    "overflow_policy",
    "port",
    "positive_duration",
    "positive_int",
    "rate",
    "scopes",
    "size",
    "text",
    "text_or_none",
]

rate = parse_rate
size = parse_size
duration = parse_duration


def text(value: str) -> str:
    """The text as given, an empty one included."""
    return value


def text_or_none(value: str) -> str | None:
    """The text; an empty one counts as not set."""
    return value or None


def lowercase(value: str) -> str | None:
    """The text in lower case; an empty one counts as not set."""
    return value.lower() or None


_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def flag(value: str) -> bool:
    """On for 1, true, yes or on; off for 0, false, no or off (any case). Anything else is
    an error, not quietly off: OKTA_RISK_NO_COALESCE=maybe must not pass for a choice."""
    word = value.strip().lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise ValueError(f"{value!r} is not on or off: use one of {', '.join(_ON + _OFF)}")


def positive_duration(value: str) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"{value!r} must be more than zero")
    return seconds


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{value!r} must be at least 1")
    return number


def int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is not between {low} and {high}")
        return number

    return parse


def minimum_int(low: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < low:
            raise ValueError(f"{number} is too small (at least {low})")
        return number

    return parse


def port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"{number} is not a port (0 to 65535)")
    return number


class OneOf:
    """One of a few words, in any case (the value is lower-cased). A class rather than a
    closure so that commands where click checks the value (map) can ask for the words."""

    def __init__(self, *words: str) -> None:
        self.words = words

    def __call__(self, value: str) -> str | None:
        word = value.lower()
        if not word:
            return None
        if word not in self.words:
            raise ValueError(f"{word!r} is not {', '.join(self.words[:-1])} or {self.words[-1]}")
        return word


one_of = OneOf


def log_level(value: str) -> str | None:
    """DEBUG, INFO, WARN (Python's WARNING) or ERROR, in any case."""
    level = value.upper()
    if not level:
        return None
    if level not in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR"):
        raise ValueError(f"{level!r} is not DEBUG, INFO, WARN or ERROR")
    return "WARNING" if level == "WARN" else level


def overflow_policy(value: str) -> str | None:
    # Imported here: the spool (sqlite3 and all) is not needed to build --help.
    from okta_risk_output.spool.store import OVERFLOW_POLICIES

    if not value:
        return None
    if value not in OVERFLOW_POLICIES:
        raise ValueError(f"{value!r} is not one of {', '.join(OVERFLOW_POLICIES)}")
    return value


def scopes(value: str) -> tuple[str, ...]:
    """Space- or comma-separated; an empty value is no scope (OAuthSettings refuses it)."""
    return tuple(value.replace(",", " ").split())


def existing_file(value: str) -> str | None:
    if value and not os.path.isfile(value):
        raise ValueError(f"{value} is not a file")
    return value or None
