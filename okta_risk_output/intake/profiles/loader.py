"""Profile files (TOML) to Profiles, with every problem in a file reported at once.

The built-in profiles are TOML files in this package's builtin/ folder, read by the same code
as the user's, so they are examples of the format as well. `auto` is not a file: it is the
built-in profiles tried in turn (see AutoProfile). docs/profiles.md describes the format.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from okta_risk_output.errors import ConfigError
from okta_risk_output.intake.profiles.conditions import Condition, Filter, parse_condition
from okta_risk_output.intake.profiles.engine import (
    AutoProfile,
    DeclaredProfile,
    Direction,
    MapSettings,
    Profile,
)
from okta_risk_output.intake.profiles.levels import parse_level_rules
from okta_risk_output.intake.profiles.paths import FieldPath
from okta_risk_output.intake.profiles.templates import Template, parse_template
from okta_risk_output.intake.profiles.times import parse_expiry, parse_fields, parse_time_field

__all__ = ["BUILTIN_PROFILES", "ProfileError", "load_profile", "parse_profile"]

# The order is auto's order of recognition: specific JSON shapes first.
_BUILTIN_FILES = ("suricata", "zeek", "ecs", "splunk-es", "cef")
BUILTIN_PROFILES = ("auto", *sorted(_BUILTIN_FILES))
"""The names --profile accepts besides a path to a .toml file."""

_SECTIONS = ("profile", "filter", "ip", "risk_level", "message", "timestamp", "expires")
_PROFILE_KEYS = ("name", "description", "input", "extends", "recognise")
_REASON = re.compile(r"[A-Za-z0-9_.-]+")
_DIRECTIONS: tuple[Direction, ...] = ("source", "destination")


class ProfileError(ConfigError):
    """A profile cannot be used; `problems` lists every reason, each naming where it is."""


def load_profile(
    name_or_path: str,
    *,
    direction: str = "source",
    strict: bool = False,
    allow_non_global_ips: bool = False,
) -> Profile:
    """A built-in profile by name (see BUILTIN_PROFILES) or a profile file by path.

    direction: which address of a record is reported, "source" or "destination".
    strict: messages are not sanitised, so the schema rejects what does not fit.
    allow_non_global_ips: private, loopback, ... addresses are mapped instead of skipped.
    Raises ProfileError listing every problem found.
    """
    settings = _settings(direction, strict, allow_non_global_ips)
    if name_or_path == "auto":
        profiles = [_builtin(name, settings) for name in _BUILTIN_FILES]
        return AutoProfile(
            text_profile=next(p for p in profiles if p.input == "cef"),
            json_profiles=tuple(p for p in profiles if p.input == "json"),
            settings=settings,
        )
    if name_or_path in _BUILTIN_FILES:
        return _builtin(name_or_path, settings)
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.is_file():
        close = difflib.get_close_matches(name_or_path.lower(), BUILTIN_PROFILES, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise ProfileError(
            [
                f"no profile {name_or_path!r}: {guess}use one of {', '.join(BUILTIN_PROFILES)} "
                "or the path of a .toml profile file"
            ]
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise ProfileError([f"{name_or_path}: cannot read the profile: {problem}"]) from None
    return _build(text, name_or_path, path.stem, settings)


def parse_profile(
    text: str,
    source: str = "<profile>",
    *,
    direction: str = "source",
    strict: bool = False,
    allow_non_global_ips: bool = False,
) -> Profile:
    """A profile from TOML text (what load_profile does with a file's contents).

    `source` names the text in problems. Raises ProfileError listing every problem found.
    """
    settings = _settings(direction, strict, allow_non_global_ips)
    return _build(text, source, "custom", settings)


def _settings(direction: str, strict: bool, allow_non_global_ips: bool) -> MapSettings:
    if direction not in _DIRECTIONS:
        raise ProfileError([f"direction {direction!r} must be 'source' or 'destination'"])
    return MapSettings(
        direction="source" if direction == "source" else "destination",
        strict=strict,
        allow_non_global_ips=allow_non_global_ips,
    )


def _builtin(name: str, settings: MapSettings) -> DeclaredProfile:
    return _build(_builtin_text(name), f"built-in profile {name}", name, settings)


@functools.cache
def _builtin_text(name: str) -> str:
    folder = resources.files("okta_risk_output.intake.profiles").joinpath("builtin")
    return folder.joinpath(f"{name}.toml").read_text("utf-8")


def _build(text: str, source: str, default_name: str, settings: MapSettings) -> DeclaredProfile:
    problems: list[str] = []
    raw = _read_toml(text, problems)
    if raw is not None:
        raw = _extend(raw, problems)
    profile = _profile(raw, default_name, settings, problems) if raw is not None else None
    if problems or profile is None:
        raise ProfileError([f"{source}: {problem}" for problem in problems])
    return profile


def _read_toml(text: str, problems: list[str]) -> dict[str, Any] | None:
    # tomllib is the stdlib's from Python 3.11; tomli is the same parser for 3.10. Imported by
    # name so that type checking for 3.10 does not need tomli installed on a newer Python.
    toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        loaded: dict[str, Any] = toml.loads(text)
    except ValueError as problem:  # TOMLDecodeError is a ValueError in both
        problems.append(f"not valid TOML: {problem}")
        return None
    return loaded


def _extend(raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """`[profile] extends = "suricata"`: start from a built-in; each section given replaces
    the built-in's whole section (the [profile] table is merged key by key)."""
    header = raw.get("profile")
    if not isinstance(header, dict) or "extends" not in header:
        return raw
    parent_name = header["extends"]
    if parent_name not in _BUILTIN_FILES:
        problems.append(
            f"profile.extends: {parent_name!r} is not a built-in profile; "
            f"use one of {', '.join(sorted(_BUILTIN_FILES))}"
        )
        return raw
    parent = _read_toml(_builtin_text(parent_name), problems) or {}
    merged = {**parent, **raw}
    merged["profile"] = {**parent.get("profile", {}), **header}
    merged["profile"].pop("extends", None)
    merged["profile"].pop("recognise", None)  # recognition is auto's, never a file's
    if "name" not in header:
        merged["profile"].pop("name", None)
    return merged


def _profile(
    raw: dict[str, Any], default_name: str, settings: MapSettings, problems: list[str]
) -> DeclaredProfile | None:
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        problems.append(
            f"unknown section {', '.join(map(repr, unknown))}; a profile has {', '.join(_SECTIONS)}"
        )
    header = _table(raw, "profile", problems, required=False)
    _unknown_keys(header, "profile", _PROFILE_KEYS, problems)
    name = _string(header.get("name", default_name), "profile.name", problems)
    description = _string(header.get("description", ""), "profile.description", problems)
    input_kind = header.get("input", "json")
    if input_kind not in ("json", "cef"):
        problems.append(f"profile.input: {input_kind!r} must be 'json' or 'cef'")
    recognise = _conditions(header.get("recognise", []), "profile.recognise", problems)
    filters = _filters(raw.get("filter", []), problems)
    ip, skip_non_address = _ip(raw, settings.direction, problems)
    if "risk_level" not in raw:
        problems.append("risk_level: at least one [[risk_level]] rule is required")
    rules = parse_level_rules(raw.get("risk_level", [{"level": "LOW"}]), "risk_level", problems)
    message = _message(raw, problems)
    timestamp = (
        parse_time_field(raw["timestamp"], "timestamp", problems) if "timestamp" in raw else None
    )
    expires = parse_expiry(raw["expires"], "expires", problems) if "expires" in raw else None
    if problems:
        return None
    return DeclaredProfile(
        name=name,
        description=description,
        input="cef" if input_kind == "cef" else "json",
        ip=ip,
        risk_level=rules,
        message=message,
        timestamp=timestamp,
        expires=expires,
        filters=filters,
        recognise=recognise,
        skip_non_address=skip_non_address,
        settings=settings,
    )


def _table(raw: dict[str, Any], key: str, problems: list[str], *, required: bool) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"{key}: the [{key}] section is required")
        return {}
    if not isinstance(value, dict):
        problems.append(f"{key}: expected a [{key}] table")
        return {}
    return value


def _unknown_keys(
    table: dict[str, Any], where: str, known: tuple[str, ...], problems: list[str]
) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        problems.append(
            f"{where}: unknown key {', '.join(map(repr, unknown))}; expected {', '.join(known)}"
        )


def _string(value: Any, where: str, problems: list[str]) -> str:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string")
        return ""
    return value


def _conditions(raw: Any, where: str, problems: list[str]) -> tuple[Condition, ...]:
    if not isinstance(raw, list):
        problems.append(f"{where}: expected a list of conditions")
        return ()
    found = [parse_condition(item, f"{where}[{i}]", problems) for i, item in enumerate(raw)]
    return tuple(c for c in found if c is not None)


def _filters(raw: Any, problems: list[str]) -> tuple[Filter, ...]:
    if not isinstance(raw, list):
        problems.append("filter: expected [[filter]] tables")
        return ()
    filters: list[Filter] = []
    for i, item in enumerate(raw):
        where = f"filter[{i}]"
        condition = parse_condition(item, where, problems, extra=("skip_reason",))
        if not isinstance(item, dict):
            continue
        reason = item.get("skip_reason", "filtered_out")
        if not isinstance(reason, str) or not _REASON.fullmatch(reason):
            problems.append(
                f"{where}.skip_reason: {reason!r} must be one word of letters, digits, "
                "'_', '.' or '-' (it names a counter)"
            )
        elif condition is not None:
            filters.append(Filter(condition, reason))
    return tuple(filters)


def _ip(
    raw: dict[str, Any], direction: Direction, problems: list[str]
) -> tuple[tuple[FieldPath, ...], bool]:
    """The paths for `direction`, and whether a value that is no address is skipped."""
    table = _table(raw, "ip", problems, required=True)
    _unknown_keys(table, "ip", (*_DIRECTIONS, "not_an_address"), problems)
    not_an_address = table.get("not_an_address", "reject")
    if not_an_address not in ("reject", "skip"):
        problems.append(f"ip.not_an_address: {not_an_address!r} must be 'reject' or 'skip'")
    if table and "source" not in table:
        problems.append("ip.source: required (the field holding the address to report)")
    paths = {
        side: parse_fields(table[side], f"ip.{side}", problems)
        for side in _DIRECTIONS
        if side in table
    }
    if table and direction == "destination" and "destination" not in table:
        problems.append("ip.destination: this profile gives none, so it cannot map destinations")
    return paths.get(direction, ()), not_an_address == "skip"


def _message(raw: dict[str, Any], problems: list[str]) -> Template | None:
    if "message" not in raw:
        return None
    if isinstance(raw["message"], str):  # the short form: message = "{alert.signature}"
        raw = {"message": {"template": raw["message"]}}
    table = _table(raw, "message", problems, required=False)
    _unknown_keys(table, "message", ("template",), problems)
    if "template" not in table:
        problems.append("message.template: required in a [message] section")
        return None
    try:
        return parse_template(table["template"])
    except ValueError as problem:
        problems.append(f"message.template: {problem}")
        return None
