"""The settings reference of docs/configuration.md, written from config/table.py.

The section between BEGIN and END in that file is this module's `render()`;
`python scripts/make_config_reference.py` rewrites it, and tests/unit/test_config_reference.py
fails while it differs. Only text in, text out here: the script does the file.
"""

from __future__ import annotations

from okta_risk_output.config.table import GROUPS, SETTINGS, Setting

__all__ = ["BEGIN", "END", "render", "updated"]

BEGIN = (
    "<!-- settings reference: generated from okta_risk_output/config/table.py by "
    "`python scripts/make_config_reference.py`; edit the table, not this -->"
)
END = "<!-- end of the settings reference -->"


def render() -> str:
    """Markdown: a table per group, in the order of `--help`."""
    parts = []
    for group in GROUPS:
        rows = [_row(s) for s in SETTINGS if s.group == group]
        parts.append(
            f"### {group}\n\n| flag | environment | default | meaning |\n|---|---|---|---|\n"
            + "\n".join(rows)
        )
    return "\n\n".join(parts)


def updated(document: str) -> str:
    """`document` with the text between BEGIN and END replaced by render()."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {BEGIN!r} ... {END!r} section")
    return document[: start + len(BEGIN)] + "\n\n" + render() + "\n\n" + document[end:]


def _row(setting: Setting) -> str:
    if setting.env_only:
        flag = "(none)"
    elif setting.is_switch:
        flag = f"`{setting.flag}`"
    else:
        flag = f"`{setting.flag} {setting.metavar}`"
    cells = [flag, f"`{setting.env}`" if setting.env else "", _default(setting)]
    cells.append(setting.doc or setting.help)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _default(setting: Setting) -> str:
    if setting.default is not None:
        text = f"`{setting.default}`"
    elif setting.shown_default:
        text = f"({setting.shown_default})"
    elif setting.is_switch and not setting.env_only:
        text = "off"
    else:
        text = ""
    own = [f"`{command}`: `{value}`" for command, value in setting.command_defaults.items()]
    return "; ".join(([text] if text else []) + own)
