"""From a record's severity, however its source spells it, to Okta's HIGH, MEDIUM or LOW.

A profile lists `[[risk_level]]` rules; the first that gives a level wins:

    [[risk_level]]                      # a table of values (compared as text, ignoring case)
    field = "alert.severity"
    map = { "1" = "HIGH", "2" = "MEDIUM", "3" = "LOW" }

    [[risk_level]]                      # numeric thresholds: the highest level reached
    field = "kibana.alert.risk_score"
    thresholds = { HIGH = 48, MEDIUM = 22, LOW = 0 }

    [[risk_level]]                      # a constant: the fallback when nothing above applied
    level = "MEDIUM"

A rule may have both `map` and `thresholds` (CEF: "High" or 7); the map is tried first.
A value below every threshold, or not in the map, gives no level and the next rule is tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from okta_risk_output.intake.profiles.paths import FieldPath, parse_path, text_of
from okta_risk_output.levels import normal_level, risk_rank

__all__ = ["LevelRule", "choose_level", "parse_level_rules"]


@dataclass(frozen=True)
class LevelRule:
    path: FieldPath | None = None
    table: dict[str, str] = field(default_factory=dict)
    """Casefolded value text -> level."""
    thresholds: tuple[tuple[float, str], ...] = ()
    """(lowest value, level), highest first."""
    level: str | None = None

    def level_of(self, record: Any) -> str | None:
        if self.path is None:
            return self.level
        value = self.path.find(record)
        text = text_of(value[0] if isinstance(value, list) and len(value) == 1 else value)
        if text is None:
            return None
        if text.casefold() in self.table:
            return self.table[text.casefold()]
        number = _number(text)
        if number is not None:
            for lowest, level in self.thresholds:
                if number >= lowest:
                    return level
        return None


def choose_level(rules: tuple[LevelRule, ...], record: Any) -> str | None:
    for rule in rules:
        level = rule.level_of(record)
        if level is not None:
            return level
    return None


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_level_rules(raw: Any, where: str, problems: list[str]) -> tuple[LevelRule, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: expected one or more [[risk_level]] tables")
        return ()
    rules = [_rule(item, f"{where}[{i}]", problems) for i, item in enumerate(raw)]
    return tuple(rule for rule in rules if rule is not None)


def _rule(raw: Any, where: str, problems: list[str]) -> LevelRule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table")
        return None
    before = len(problems)
    unknown = sorted(set(raw) - {"field", "map", "thresholds", "level"})
    if unknown:
        problems.append(
            f"{where}: unknown key {', '.join(map(repr, unknown))}; a rule has 'field' with "
            "'map' and/or 'thresholds', or just 'level'"
        )
    if "level" in raw:
        if set(raw) & {"field", "map", "thresholds"}:
            problems.append(f"{where}: 'level' is a constant; it takes no field, map or thresholds")
        level = _level(raw["level"], f"{where}.level", problems)
        return LevelRule(level=level) if len(problems) == before else None
    path = None
    try:
        path = parse_path(raw.get("field"))
    except ValueError as problem:
        problems.append(f"{where}.field: {problem}")
    if "map" not in raw and "thresholds" not in raw:
        problems.append(f"{where}: give 'map', 'thresholds' or both (or a constant 'level')")
    table = _table(raw.get("map", {}), f"{where}.map", problems)
    thresholds = _thresholds(raw.get("thresholds", {}), f"{where}.thresholds", problems)
    if len(problems) != before or path is None:
        return None
    return LevelRule(path, table, thresholds)


def _level(raw: Any, where: str, problems: list[str]) -> str:
    if (level := normal_level(raw)) is not None:
        return level
    problems.append(f"{where}: {raw!r} is not a risk level; use HIGH, MEDIUM or LOW")
    return ""


def _table(raw: Any, where: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append(f'{where}: expected a table like {{ "1" = "HIGH" }}')
        return {}
    return {
        str(key).strip().casefold(): _level(value, f"{where}.{key}", problems)
        for key, value in raw.items()
    }


def _thresholds(raw: Any, where: str, problems: list[str]) -> tuple[tuple[float, str], ...]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table like {{ HIGH = 7, MEDIUM = 4, LOW = 0 }}")
        return ()
    found: list[tuple[float, str]] = []
    for key, value in raw.items():
        level = _level(key, f"{where}.{key}", problems)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}.{key}: expected a number, got {value!r}")
        elif not math.isfinite(value):
            problems.append(f"{where}.{key}: expected a finite number")
        elif level:
            found.append((float(value), level))
    ordered = sorted(found, reverse=True)
    by_rank = sorted(found, key=lambda pair: risk_rank(pair[1]))
    if ordered != by_rank:
        problems.append(f"{where}: thresholds must rise with the level (HIGH > MEDIUM > LOW)")
    return tuple(ordered)
