"""Field paths: `alert.signature`, `related.ip[0]`, `threat.enrichments[-1].indicator.ip`.

A dotted path finds nested objects *and* keys that themselves contain dots, in any mix:
Zeek writes `{"id.orig_h": ...}` flat, Elasticsearch exports `{"kibana.alert.risk_score": ..}`
flat, and most JSON nests. So `id.orig_h` matches `{"id": {"orig_h": x}}` and
`{"id.orig_h": x}` alike. JSON null and a missing key are the same: absent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_STEPS", "FieldPath", "parse_path", "text_of"]

MAX_STEPS = 32
"""Longer paths are refused: no record format nests that deep."""

_STEP = re.compile(r"([^.\[\]]+)((?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


@dataclass(frozen=True)
class _Step:
    name: str
    indexes: tuple[int, ...]


class _Missing:
    """The answer 'no such field' (distinct from any JSON value, null included)."""


_MISSING = _Missing()


@dataclass(frozen=True)
class FieldPath:
    text: str
    steps: tuple[_Step, ...]

    def find(self, record: Any) -> Any:
        """The value at this path, or None when it is absent (or JSON null)."""
        if len(self.steps) == 1 and not self.steps[0].indexes:
            # One plain name (event_type, urgency): the search below comes to a lookup.
            return record.get(self.steps[0].name) if isinstance(record, Mapping) else None
        found = _Finder(self.steps).find(record, 0)
        return None if isinstance(found, _Missing) else found

    def __str__(self) -> str:
        return self.text


def parse_path(text: Any) -> FieldPath:
    """Parse a path (usually from a profile file); ValueError says what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a field path must be a non-empty string like 'alert.severity'")
    steps: list[_Step] = []
    for part in text.split("."):
        match = _STEP.fullmatch(part)
        if not match:
            raise ValueError(
                f"{text!r} is not a field path: write names separated by '.', "
                "with optional list indexes like 'related.ip[0]'"
            )
        name, indexes = match.groups()
        steps.append(_Step(name, tuple(int(i) for i in _INDEX.findall(indexes))))
    if len(steps) > MAX_STEPS:
        raise ValueError(f"{text!r} has {len(steps)} steps; the most is {MAX_STEPS}")
    return FieldPath(text, tuple(steps))


class _Finder:
    """Tries every way of reading the steps as nested keys or dotted keys, once per node."""

    def __init__(self, steps: tuple[_Step, ...]) -> None:
        self.steps = steps
        # Memo by (node identity, step): without it, an adversarial record whose keys match
        # every split of the path would cost 2**steps lookups.
        self.seen: dict[tuple[int, int], Any] = {}

    def find(self, node: Any, at: int) -> Any:
        if at == len(self.steps):
            return _MISSING if node is None else node
        if not isinstance(node, Mapping):
            return _MISSING
        memo_key = (id(node), at)
        if memo_key not in self.seen:
            self.seen[memo_key] = self._search(node, at)
        return self.seen[memo_key]

    def _search(self, node: Mapping[Any, Any], at: int) -> Any:
        # Longest dotted key first: "a.b" as one key is more specific than "a" then "b".
        # Only the last step joined into one key may carry list indexes.
        last = at
        while last + 1 < len(self.steps) and not self.steps[last].indexes:
            last += 1
        for end in range(last, at - 1, -1):
            key = ".".join(step.name for step in self.steps[at : end + 1])
            if key not in node:
                continue
            value = _index(node[key], self.steps[end].indexes)
            if isinstance(value, _Missing):
                continue
            found = self.find(value, end + 1)
            if not isinstance(found, _Missing):
                return found
        return _MISSING


def _index(value: Any, indexes: tuple[int, ...]) -> Any:
    for i in indexes:
        if not isinstance(value, list) or not -len(value) <= i < len(value):
            return _MISSING
        value = value[i]
    return value


def text_of(value: Any) -> str | None:
    """A scalar JSON value as the text users compare it with; None for objects and arrays.

    1, 1.0 and "1" all read "1"; true reads "true". Strings are stripped.
    """
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than Python converts (sys.int_info.str_digits_check)
            return None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return None
