"""The command line's shape: the same flags as ever, --help in sections by concern, each
command imported only when it runs, and a runner that returns its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from okta_risk_output.cli.main import COMMANDS, cli
from okta_risk_output.cli.runner import run_shipper
from okta_risk_output.config.table import GROUPS
from okta_risk_output.errors import ExitStatus

ROOT = Path(__file__).resolve().parents[2]

_COMMON = {
    "--dead-letter", "--spool", "--spool-max-events", "--spool-max-bytes", "--spool-sync",
    "--log-level", "--log-format", "--stats-interval", "--metrics-file", "--metrics-port",
    "--metrics-host",
}  # fmt: skip
_INTAKE = {
    "--overflow", "--default-expires-in", "--max-line-bytes", "--strict", "--profile",
    "--direction", "--coalesce-window", "--no-coalesce", "--allow-non-global-ips",
}  # fmt: skip
_DELIVERY = {
    "--org-url", "--api-token-file", "--rate-limit", "--max-events-per-request",
    "--max-subjects-per-event", "--pack-granularity", "--linger", "--timeout", "--max-backoff",
    "--max-retry-age", "--shutdown-timeout", "--auth", "--client-id", "--private-key-file",
    "--key-id", "--scopes", "--dpop", "--token-cache", "--ca-bundle",
}  # fmt: skip
FLAGS = {
    "run": _COMMON | _INTAKE | _DELIVERY | {"--eof-timeout", "--dry-run"},
    "enqueue": _COMMON | _INTAKE,
    "drain": _COMMON | _DELIVERY | {"--until-empty", "--for", "--forever"},
    "omprog": _COMMON | _INTAKE | _DELIVERY
    | {"--eof-timeout", "--transactions", "--begin-mark", "--commit-mark", "--keepalive"},
    "fluentd": _COMMON | _INTAKE | _DELIVERY | {"--eof-timeout", "--format", "--keys"},
    "splunk": {"--execute"},
    "status": {"--spool", "--json", "--watch", "--check"},
    "schema": set(),
    "validate": {
        "--format", "--strict", "--profile", "--direction", "--allow-non-global-ips",
        "--max-line-bytes", "--default-expires-in",
    },
    "map": {"--profile", "--direction", "--allow-non-global-ips", "--strict"},
    "emulator": {
        "--host", "--port", "--api-token", "--record", "--rate-limit", "--window",
        "--fail-rate", "--seed", "--latency", "--script", "--outage-after", "--outage-for",
        "--outage-mode", "--reject-ip", "--endpoint-off", "--foreign-load", "--client",
        "--new-client", "--disable-client", "--require-dpop", "--token-lifetime", "--verbose",
        "-v",
    },
}  # fmt: skip
"""Every command's flags as they were before the settings table (issue 12)."""


def _command(name: str) -> click.Command:
    with click.Context(cli) as ctx:
        command = cli.get_command(ctx, name)
    assert command is not None
    return command


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_each_command_keeps_its_flags(name: str) -> None:
    flags = {
        flag
        for param in _command(name).params
        if isinstance(param, click.Option)
        for flag in param.opts + param.secondary_opts
    }
    assert flags == FLAGS[name]


def test_every_command_is_listed() -> None:
    assert set(COMMANDS) == set(FLAGS)


def test_run_help_lists_options_in_sections_by_concern() -> None:
    text = CliRunner().invoke(cli, ["run", "--help"]).output
    titles = [
        line[:-1] for line in text.splitlines() if line and line[0] != " " and line[-1] == ":"
    ]
    assert titles == ["Options", *GROUPS]
    section = text.split("\nDelivery:\n", 1)[1].split("\n\n", 1)[0]
    assert "--linger DUR" in section and "[default: 2s]" in section


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["schema"], ["cli.ship", "cli.splunk", "cli.emulator", "config.settings", "jwt"]),
        (["enqueue", "--help"], ["cli.fluentd", "cli.emulator", "cli.map", "emulator", "jwt"]),
        (["fluentd", "--help"], ["cli.splunk", "cli.omprog", "hosts.splunk", "emulator"]),
        (["splunk", "--help"], ["cli.fluentd", "hosts.fluentd", "cli.omprog"]),
    ],
)
def test_a_command_imports_only_what_it_needs(args: list[str], absent: list[str]) -> None:
    code = (
        "import sys, json\n"
        "from okta_risk_output.cli.main import cli\n"
        f"cli({args!r}, prog_name='okta-risk-output', standalone_mode=False)\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stderr.decode().splitlines()[-1]))
    for name in absent:
        module = name if name == "jwt" else f"okta_risk_output.{name}"
        assert module not in loaded, module


def test_the_runner_returns_the_exit_status_instead_of_exiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    for variable in ("OKTA_RISK_RATE_LIMIT", "OKTA_RISK_LINGER"):
        monkeypatch.delenv(variable, raising=False)
    status = run_shipper(
        {"linger": "soon"}, lambda shipper: ExitStatus.OK, command="enqueue", delivery=False
    )
    assert status is ExitStatus.USAGE


def test_a_returned_exit_status_is_the_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert CliRunner().invoke(cli, ["validate", str(bad)]).exit_code == 1
    assert CliRunner().invoke(cli, ["map", "--profile", "nosuch", str(bad)]).exit_code == 2
    assert CliRunner().invoke(cli, ["schema"]).exit_code == 0
