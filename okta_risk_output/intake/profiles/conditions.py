"""Conditions on a record: `[[filter]]` tables and the `recognise` lists of built-in profiles.

One condition is a field and one test:

    { field = "event_type", equals = "alert" }
    { field = "urgency", not_in = ["informational"] }
    { field = "note", matches = "^(Scan|SSH)::" }
    { field = "kibana.alert.building_block_type", exists = false }

Values compare as text, ignoring case (`1`, `1.0` and `"1"` are equal); `matches` and
`not_matches` are regular expressions in RE2's syntax (patterns.py) searched in the text, as
written (add `(?i)` to ignore case). When the field holds an array, `equals`, `in` and
`matches` hold if any item does, and their `not_` forms hold if no item does. An absent field
equals nothing, is in nothing and matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from okta_risk_output.intake.profiles.paths import FieldPath, parse_path, text_of
from okta_risk_output.intake.profiles.patterns import PatternError, compile_pattern

__all__ = ["OPERATORS", "Condition", "Filter", "parse_condition"]

OPERATORS = ("equals", "in", "not_in", "matches", "not_matches", "exists")


@dataclass(frozen=True)
class Condition:
    path: FieldPath
    operator: str
    test: Callable[[list[str]], bool]
    """Applied to the field's texts (one per array item); [] when the field is absent."""

    def holds(self, record: Any) -> bool:
        value = self.path.find(record)
        items = value if isinstance(value, list) else [] if value is None else [value]
        texts = [t for t in (text_of(item) for item in items) if t is not None]
        if self.operator == "exists":
            # Objects and arrays of objects exist too, though they have no text.
            return self.test(["present"] if value not in (None, "", []) else [])
        return self.test(texts)


@dataclass(frozen=True)
class Filter:
    """Map only records where `condition` holds; count the others as skipped for `skip_reason`."""

    condition: Condition
    skip_reason: str


def parse_condition(
    raw: Any, where: str, problems: list[str], extra: tuple[str, ...] = ()
) -> Condition | None:
    """A Condition from its table, or None after appending every problem to `problems`.

    `extra` names further keys the caller reads from the same table (a filter's skip_reason).
    """
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table like {{ field = 'x', equals = 'y' }}")
        return None
    unknown = sorted(set(raw) - {"field", *OPERATORS, *extra})
    if unknown:
        problems.append(
            f"{where}: unknown key {', '.join(map(repr, unknown))}; a condition has 'field' "
            f"and one of {', '.join(OPERATORS)}"
        )
    operators = [op for op in OPERATORS if op in raw]
    path = None
    try:
        path = parse_path(raw.get("field"))
    except ValueError as problem:
        problems.append(f"{where}.field: {problem}")
    if len(operators) != 1:
        problems.append(
            f"{where}: give exactly one of {', '.join(OPERATORS)}"
            + (f" (found {', '.join(operators)})" if operators else "")
        )
        return None
    operator = operators[0]
    test = _test(operator, raw[operator], f"{where}.{operator}", problems)
    if path is None or test is None:
        return None
    return Condition(path, operator, test)


def _test(
    operator: str, operand: Any, where: str, problems: list[str]
) -> Callable[[list[str]], bool] | None:
    if operator == "exists":
        if not isinstance(operand, bool):
            problems.append(f"{where}: expected true or false")
            return None

        def exists(texts: list[str]) -> bool:
            return bool(texts) == operand

        return exists
    if operator in ("matches", "not_matches"):
        if not isinstance(operand, str):
            problems.append(f"{where}: expected a regular expression as a string")
            return None
        try:
            pattern = compile_pattern(operand)  # RE2: a record can never make matching hang
        except PatternError as problem:
            problems.append(f"{where}: {problem}")
            return None

        def matches(texts: list[str]) -> bool:
            return any(pattern.search(t) for t in texts) == (operator == "matches")

        return matches
    choices = [operand] if operator == "equals" else operand
    if not isinstance(choices, list) or not choices:
        problems.append(f"{where}: expected a non-empty list of values")
        return None
    wanted = [text_of(c) for c in choices]
    if any(w is None for w in wanted):
        problems.append(f"{where}: values must be strings, numbers or booleans")
        return None
    folded = {w.casefold() for w in wanted if w is not None}

    def among(texts: list[str]) -> bool:
        return any(t.casefold() in folded for t in texts) == (operator != "not_in")

    return among
