"""Shell completion comes from click: the variable named after the program prints a script."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from okta_risk_output.cli.main import cli


@pytest.mark.parametrize(
    ("shell", "marker"), [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")]
)
def test_completion_script_for_each_shell(shell: str, marker: str) -> None:
    result = CliRunner().invoke(
        cli,
        [],
        prog_name="okta-risk-output",
        env={"_OKTA_RISK_OUTPUT_COMPLETE": f"{shell}_source"},
    )
    assert result.exit_code == 0
    assert marker in result.stdout and "_OKTA_RISK_OUTPUT_COMPLETE" in result.stdout


def test_completion_completes_commands() -> None:
    result = CliRunner().invoke(
        cli,
        [],
        prog_name="okta-risk-output",
        env={
            "_OKTA_RISK_OUTPUT_COMPLETE": "bash_complete",
            "COMP_WORDS": "okta-risk-output st",
            "COMP_CWORD": "1",
        },
    )
    assert result.exit_code == 0
    assert "plain,status" in result.stdout.splitlines()
