"""Settings: every problem reported at once, https enforced, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from okta_risk_output.config.settings import build_settings
from okta_risk_output.errors import ConfigError, ExitStatus

ENV = {"OKTA_ORG_URL": "https://example.okta.com", "OKTA_API_TOKEN": "00abcSECRETtoken"}


def test_defaults() -> None:
    settings = build_settings({}, ENV)
    assert settings.org_url == "https://example.okta.com"
    assert str(settings.rate) == "30/min"
    assert (settings.packing.max_events, settings.packing.max_subjects) == (20, 50)
    assert settings.linger == 2.0
    assert settings.default_expires_in is None
    assert settings.retry.max_retry_age is None


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings(
            {"rate_limit": "fast", "linger": "soon", "max_events_per_request": "21"},
            {},
        )
    problems = caught.value.problems
    assert caught.value.exit_status is ExitStatus.USAGE
    assert len(problems) == 5
    joined = " | ".join(problems)
    for fragment in (
        "org URL is missing",
        "API token is missing",
        "--rate-limit",
        "--linger",
        "--max-events-per-request",
    ):
        assert fragment in joined


def test_a_flag_wins_over_the_environment() -> None:
    settings = build_settings({"rate_limit": "5/s", "org_url": "https://other.okta.com/"}, ENV)
    assert str(settings.rate) == "5/s"
    assert settings.org_url == "https://other.okta.com"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.okta.com", True),
        ("https://example.okta.com/", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://example.okta.com", False),
        ("http://10.0.0.5", False),
        ("ftp://example.okta.com", False),
        ("https://example.okta.com/api/v1", False),
        ("https://user:pw@example.okta.com", False),
        ("example.okta.com", False),
    ],
)
def test_https_is_required_except_on_loopback(url: str, ok: bool) -> None:
    if ok:
        assert build_settings({"org_url": url}, ENV).org_url == url.rstrip("/")
    else:
        with pytest.raises(ConfigError):
            build_settings({"org_url": url}, ENV)


def test_an_admin_console_url_is_refused_with_the_org_s_own() -> None:
    with pytest.raises(ConfigError, match=r"Admin Console.*use https://acme\.okta\.com"):
        build_settings({"org_url": "https://acme-admin.okta.com"}, ENV)
    # A custom domain may be called anything.
    assert build_settings({"org_url": "https://login-admin.example.com"}, ENV).org_url


def test_the_token_file_wins_and_is_never_shown(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("00fromFILEsecret\n")
    settings = build_settings({"api_token_file": str(token_file)}, ENV)
    assert settings.api_token.reveal() == "00fromFILEsecret"
    for text in (repr(settings), str(settings.api_token), repr(settings.api_token)):
        assert "SECRET" not in text and "secret" not in text


def test_an_unreadable_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the API token file"):
        build_settings({"api_token_file": str(tmp_path / "missing")}, ENV)


def test_the_readme_lists_the_exit_codes_the_program_has() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for status in ExitStatus:
        assert f"| {status.value} | {status.meaning} |" in readme


def test_a_token_with_a_second_line_is_refused_without_being_quoted(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("00abcSECRETtoken\n# rotated 2026-01\n")
    with pytest.raises(ConfigError) as caught:
        build_settings({"api_token_file": str(token_file)}, ENV)
    assert "visible ASCII" in str(caught.value) and "SECRET" not in str(caught.value)


@pytest.mark.parametrize(("text", "on"), [("1", True), ("Yes", True), ("off", False), ("0", False)])
def test_an_on_off_variable_takes_on_or_off_words(text: str, on: bool) -> None:
    settings = build_settings({}, {**ENV, "OKTA_RISK_NO_COALESCE": text})
    assert settings.spool_policy.coalesce is not on


def test_a_bad_variable_is_named_as_the_variable_not_the_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({}, {**ENV, "OKTA_RISK_NO_COALESCE": "maybe", "OKTA_RISK_TIMEOUT": "soon"})
    text = str(caught.value)
    assert "OKTA_RISK_NO_COALESCE: 'maybe' is not on or off" in text
    assert "OKTA_RISK_TIMEOUT:" in text and "--timeout" not in text
