"""docs/configuration.md's settings reference is config/table.py, rendered."""

from __future__ import annotations

from pathlib import Path

from okta_risk_output.config.reference import BEGIN, END, render, updated
from okta_risk_output.config.table import SETTINGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_settings_reference_in_the_docs_is_fresh() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert updated(text) == text, (
        "docs/configuration.md is stale: run `python scripts/make_config_reference.py`"
    )


def test_the_reference_lists_every_setting_and_variable() -> None:
    text = render()
    for setting in SETTINGS:
        if setting.env:
            assert f"`{setting.env}`" in text
        if not setting.env_only:
            assert f"`{setting.flag}" in text


def test_updated_replaces_only_the_section() -> None:
    document = f"before\n{BEGIN}\nSTALE ROWS\n{END}\nafter\n"
    fresh = updated(document)
    assert fresh.startswith(f"before\n{BEGIN}\n") and fresh.endswith(f"{END}\nafter\n")
    assert "STALE ROWS" not in fresh and updated(fresh) == fresh
