"""config/table.py is the one declaration of each setting: build_settings reads every one,
--help shows the defaults it uses, and a command's own default sits under flag and variable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import click
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from okta_risk_output.cli.main import cli
from okta_risk_output.config.settings import build_settings
from okta_risk_output.config.table import DEFAULTS, ENV, SETTINGS, setting, settings_of
from okta_risk_output.errors import ConfigError
from okta_risk_output.intake.profiles.loader import BUILTIN_PROFILES

ORG = {"OKTA_ORG_URL": "https://example.okta.com"}
SSWS = {**ORG, "OKTA_API_TOKEN": "00abcSECRETtoken"}


class Recording(Mapping[str, Any]):
    """Flag values that remember which settings were asked for."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def test_names_flags_and_variables_are_unique() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    variables = [s.env for s in SETTINGS if s.env]
    assert len(variables) == len(set(variables))
    assert ENV["linger"] == "OKTA_RISK_LINGER" and DEFAULTS["linger"] == "2s"


def test_build_settings_reads_every_setting_of_the_table() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    ssws = Recording({"profile": "zeek"})
    build_settings(ssws, SSWS)
    oauth = Recording({"client_id": "0oaclient"})
    build_settings(oauth, {**ORG, "OKTA_PRIVATE_KEY": pem})
    flags = {s.name for s in SETTINGS if not s.env_only}
    assert flags - (ssws.asked | oauth.asked) == set()


@pytest.mark.parametrize("command", ["run", "enqueue", "drain", "omprog", "fluentd", "validate"])
def test_the_defaults_help_shows_are_the_ones_used(command: str) -> None:
    shown = {
        s.name: s.default_for(command)
        for s in settings_of(command)
        if s.default_for(command) is not None
    }
    with click.Context(cli) as ctx:
        options = cli.get_command(ctx, command)
    assert options is not None
    helps = {p.name: getattr(p, "help", "") or "" for p in options.params}
    for name, default in shown.items():
        assert f"[default: {default}]" in helps[name], (name, helps[name])
    implicit = build_settings({}, SSWS, command=command)
    explicit = build_settings(shown, SSWS, command=command)
    assert repr(implicit) == repr(explicit)


def test_a_command_default_sits_between_the_variable_and_the_default() -> None:
    omprog = build_settings({}, SSWS, command="omprog")
    assert (omprog.eof_timeout, omprog.shutdown_timeout) == (1.5, 2.0)
    assert build_settings({}, SSWS, command="fluentd").eof_timeout == 30.0
    assert build_settings({}, SSWS, command="run").eof_timeout is None
    from_variable = build_settings({}, {**SSWS, "OKTA_RISK_EOF_TIMEOUT": "5s"}, command="omprog")
    assert from_variable.eof_timeout == 5.0
    from_flag = build_settings({"shutdown_timeout": "1s"}, SSWS, command="omprog")
    assert from_flag.shutdown_timeout == 1.0


def test_an_empty_value_means_the_default_for_words_and_is_an_error_for_numbers() -> None:
    settings = build_settings({"spool_sync": "", "dead_letter": ""}, SSWS)
    assert settings.spool_sync == "normal" and settings.dead_letter == DEFAULTS["dead_letter"]
    with pytest.raises(ConfigError, match="--linger"):
        build_settings({"linger": ""}, SSWS)


def test_the_profile_help_names_every_builtin_profile() -> None:
    for command in ("run", "map"):
        wording = setting("profile").help_for(command)
        assert all(name in wording for name in BUILTIN_PROFILES), (command, wording)


def test_the_value_objects_defaults_are_the_table_s() -> None:
    # SpoolPolicy, RetryPolicy and PackLimits keep defaults of their own, for code and tests
    # that build one directly; they must not drift from what a run without flags gets.
    from okta_risk_output.delivery.backoff import RetryPolicy
    from okta_risk_output.delivery.packing import PackLimits
    from okta_risk_output.spool.store import SpoolPolicy

    settings = build_settings({}, {}, delivery=False)
    assert settings.spool_policy == SpoolPolicy()
    assert settings.retry == RetryPolicy()
    assert settings.packing == PackLimits()
