"""Where a setting's value comes from, in order: its flag, its environment variable (an empty
one counts as unset), the command's own default, the table's default. The text is parsed by
the setting's parser (config/table.py); a bad one becomes a problem, collected so that
build_settings can report every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from okta_risk_output.config.table import setting

__all__ = ["Values"]

_FALLBACK: Any = object()


class Values:
    def __init__(
        self, options: Mapping[str, Any], environ: Mapping[str, str], command: str | None
    ) -> None:
        self.options = options
        self.environ = environ
        self.command = command
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        """The text, from wherever it comes; None when no source has one."""
        value = self.options.get(name)
        if value is None:
            variable = setting(name).env
            value = (self.environ.get(variable) if variable else None) or self.default(name)
        return None if value is None else str(value)

    def _source(self, name: str) -> str:
        """Where the text of `name` came from, as the user wrote it: the flag, or the
        environment variable (an error must name what to fix)."""
        variable = setting(name).env
        if self.options.get(name) is None and variable and self.environ.get(variable):
            return variable
        return setting(name).flag

    def default(self, name: str) -> str | None:
        return setting(name).default_for(self.command)

    def value(self, name: str, *, if_invalid: Any = _FALLBACK) -> Any:
        """The parsed value; None when not set. Bad text is a problem, and then the value
        is `if_invalid` if given, else the default's, so that the checks after this one
        still run and report their own problems."""
        text = self.raw(name)
        if text is None:
            return None
        parse = setting(name).parse
        try:
            result = parse(text)
        except ValueError as exc:
            self.problems.append(f"{self._source(name)}: {exc}")
            if if_invalid is not _FALLBACK:
                return if_invalid
            result = None
        if result is None:  # set but empty: the default stands in, as for a variable
            default = self.default(name)
            result = None if default is None else parse(default)
        return result
