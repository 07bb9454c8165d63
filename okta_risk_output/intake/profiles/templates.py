"""Message templates: `"{note} {msg}"`, `"{kibana.alert.rule.name|rule.name}"`.

`{path}` is replaced by the field's text; `{a|b|c}` by the first of them that is present;
an absent field gives ''. `{{` and `}}` are literal braces. Arrays give their scalar items
joined by spaces; objects give nothing (a message is prose, not JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from okta_risk_output.intake.profiles.paths import FieldPath, parse_path, text_of

__all__ = ["Template", "parse_template"]


@dataclass(frozen=True)
class Template:
    text: str
    parts: tuple[str | tuple[FieldPath, ...], ...]

    def render(self, record: Any) -> str:
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else _first_text(part, record))
        return "".join(out)


def parse_template(text: Any) -> Template:
    """Parse a template; ValueError says what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError("a message template must be a string like '{alert.signature}'")
    parts: list[str | tuple[FieldPath, ...]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith(("{{", "}}"), i):
            literal.append(c)
            i += 2
        elif c == "}":
            raise ValueError(f"unmatched '}}' at column {i + 1} (write '}}}}' for a brace)")
        elif c == "{":
            end = text.find("}", i)
            if end < 0:
                raise ValueError(f"'{{' at column {i + 1} is not closed")
            inner = text[i + 1 : end]
            if "{" in inner:
                raise ValueError(f"'{{' inside a placeholder at column {i + 1}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_alternatives(inner, i + 1))
            i = end + 1
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def _alternatives(inner: str, column: int) -> tuple[FieldPath, ...]:
    try:
        return tuple(parse_path(alt.strip()) for alt in inner.split("|"))
    except ValueError as problem:
        raise ValueError(f"placeholder at column {column}: {problem}") from None


def _first_text(paths: tuple[FieldPath, ...], record: Any) -> str:
    for path in paths:
        text = _as_text(path.find(record))
        if text:
            return text
    return ""


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(t for t in (text_of(v) for v in value) if t)
    return text_of(value) or ""
