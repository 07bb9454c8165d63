"""How deep a decoded JSON value nests, found without recursion: a value nested 100,000
deep must not crash the checker meant to refuse it."""

from __future__ import annotations

from typing import Any

__all__ = ["nests_deeper_than"]


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` has more than `limit` levels of objects and arrays (a scalar is 1)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return False
