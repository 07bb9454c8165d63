"""The regular expressions a profile's user writes (`matches`, `not_matches`), in RE2.

Python's `re` backtracks: `^(a+)+$` on 35 characters takes hours, holding the GIL all the
while, so not even SIGTERM gets through. RE2 matches in time linear in the text, whatever the
pattern. What it gives up for that (backreferences, lookahead and lookbehind, possessive
quantifiers) is refused here, when the profile is loaded, never while a record is matched.
docs/profiles.md lists the differences a user may meet.
"""

from __future__ import annotations

import re
import warnings
from typing import Protocol

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

__all__ = ["Pattern", "PatternError", "compile_pattern"]


class Pattern(Protocol):
    """A compiled pattern: only what conditions use."""

    def search(self, text: str) -> object | None: ...


class PatternError(ValueError):
    """The pattern cannot be used; the message says why, quoting it."""


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own error lines on stderr, which is ours


def compile_pattern(pattern: str) -> Pattern:
    """`pattern` compiled for RE2. Raises PatternError with the reason."""
    try:
        compiled: Pattern = re2.compile(pattern, _OPTIONS)
    except re2.error as problem:
        raise PatternError(_explain(pattern, _detail(problem))) from None
    return compiled


def _explain(pattern: str, detail: str) -> str:
    # Python's own message, with its position, for what is no regular expression at all;
    # for what only RE2 refuses, say so: the user may have tested it with Python or PCRE.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and the like
            re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as problem:
        return f"{pattern!r} is not a regular expression: {problem}"
    return (
        f"{pattern!r} uses what RE2, the linear-time engine profiles match with, does not "
        f"support ({detail}): it has no backreferences, lookahead or lookbehind, atomic groups, "
        "possessive quantifiers, (?x) or \\Z (write \\z)"
    )


def _detail(problem: Exception) -> str:
    reason = problem.args[0] if problem.args else ""
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
