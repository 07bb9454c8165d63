"""One frozen Settings, built from flags and the environment, checked once, every error at once.

Each value comes through config/table.py (its variable, default and parser) and
config/values.py (a flag beats the variable, which beats the default); the credential
through config/credentials.py. What is left here is how the values combine.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_risk_output.config.credentials import api_token, auth_method, oauth_settings
from okta_risk_output.config.table import ENV
from okta_risk_output.config.values import Values
from okta_risk_output.delivery.backoff import RetryPolicy
from okta_risk_output.delivery.packing import PackLimits
from okta_risk_output.errors import ConfigError
from okta_risk_output.net import is_loopback
from okta_risk_output.okta.secret import Secret
from okta_risk_output.spool.store import SpoolPolicy
from okta_risk_output.units import Rate

if TYPE_CHECKING:
    # Imported where used, not here: every command builds settings, most use no profile
    # (the engine, its patterns and re2 take a large share of a short run's start), and
    # `status` maps no record at all.
    from okta_risk_output.intake.profiles import Profile
    from okta_risk_output.intake.records import RecordMapper
    from okta_risk_output.intake.validation import Validator
    from okta_risk_output.okta.oauth import OAuthSettings

__all__ = [
    "Settings",
    "build_settings",
    "default_spool_path",
    "dry_run_settings",
    "record_mapper",
]


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, checked. Built only by build_settings; no field has a default
    of its own here, so that the table's defaults are the only ones."""

    org_url: str
    api_token: Secret = field(repr=False)
    oauth: OAuthSettings | None
    dead_letter: str
    rate: Rate
    packing: PackLimits
    linger: float
    default_expires_in: float | None
    max_line_bytes: int
    strict: bool
    profile: Profile | None
    allow_non_global_ips: bool
    timeout: float
    retry: RetryPolicy
    log_level: str
    ca_bundle: str | None
    spool: str
    spool_policy: SpoolPolicy
    spool_sync: str
    eof_timeout: float | None
    shutdown_timeout: float
    log_format: str
    stats_interval: float
    metrics_file: str | None
    metrics_port: int | None
    metrics_host: str


def build_settings(
    options: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
    *,
    delivery: bool = True,
    command: str | None = None,
) -> Settings:
    """Settings from raw flag values (None when not given) and the environment.

    Without `delivery` (enqueue, status) the org URL and credential are not required.
    `command` names the command whose own defaults apply (omprog's --eof-timeout).
    """
    values = Values(options, environ, command)
    problems = values.problems
    value = values.value
    timeout = value("timeout")
    org_url = token = None
    if delivery or values.raw("org_url"):
        org_url = _org_url(values.raw("org_url"), problems)
    oauth = None
    if delivery:
        method = auth_method(values)
        if method == "ssws":
            token = api_token(value("api_token_file"), environ.get(ENV["api_token"]), problems)
        elif method == "oauth" and org_url:
            oauth = oauth_settings(values, org_url, timeout)
    overflow = value("overflow")
    spool_sync = value("spool_sync")
    spool_policy = SpoolPolicy(
        max_events=value("spool_max_events"),
        max_bytes=value("spool_max_bytes"),
        overflow=overflow,
        coalesce=not value("no_coalesce"),
        coalesce_window=value("coalesce_window"),
    )
    per_event = value("max_subjects_per_event")
    rate = value("rate_limit")
    per_request = value("max_events_per_request")
    max_line_bytes = value("max_line_bytes")
    retry = RetryPolicy(backoff_max=value("max_backoff"), max_retry_age=value("max_retry_age"))
    log_level = value("log_level")
    log_format = value("log_format")
    metrics_port = value("metrics_port")
    strict = bool(value("strict"))
    allow_private = bool(value("allow_non_global_ips"))
    settings = Settings(
        org_url=org_url or "",
        api_token=token or Secret(""),
        oauth=oauth,
        dead_letter=value("dead_letter"),
        rate=rate,
        packing=PackLimits(
            max_subjects=per_event,
            max_events=per_request,
            granularity=value("pack_granularity"),
        ),
        linger=value("linger"),
        default_expires_in=value("default_expires_in"),
        max_line_bytes=max_line_bytes,
        strict=strict,
        profile=_profile(values, strict, allow_private),
        allow_non_global_ips=allow_private,
        timeout=timeout,
        retry=retry,
        log_level=log_level,
        ca_bundle=value("ca_bundle"),
        spool=value("spool") or default_spool_path(environ),
        spool_policy=spool_policy,
        spool_sync=spool_sync,
        eof_timeout=value("eof_timeout"),
        shutdown_timeout=value("shutdown_timeout"),
        log_format=log_format,
        stats_interval=value("stats_interval"),
        metrics_file=value("metrics_file"),
        metrics_port=metrics_port,
        metrics_host=value("metrics_host"),
    )
    if problems:
        raise ConfigError(problems)
    return settings


def default_spool_path(environ: Mapping[str, str]) -> str:
    """$XDG_STATE_HOME/okta-risk-output/spool.db, XDG's default being ~/.local/state."""
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "okta-risk-output", "spool.db")


def _org_url(value: str | None, problems: list[str]) -> str:
    if not value:
        problems.append("the org URL is missing: set --org-url or OKTA_ORG_URL")
        return ""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append(f"--org-url {value!r} is not an http(s) URL like https://example.okta.com")
        return ""
    if parts.username or parts.password or parts.query or parts.fragment:
        problems.append("--org-url must not carry credentials, a query or a fragment")
        return ""
    if parts.path not in ("", "/"):
        problems.append(
            f"--org-url {value!r} has a path; give the org's base URL, e.g. https://example.okta.com"
        )
        return ""
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        problems.append(
            "--org-url must use https (plain http is allowed only for loopback, e.g. the emulator)"
        )
        return ""
    first, _, domain = parts.hostname.partition(".")
    if first.endswith("-admin") and domain in _OKTA_DOMAINS:
        # The Admin Console's address: the API answers there with a redirect or a 404.
        org = f"{parts.scheme}://{first.removesuffix('-admin')}.{domain}"
        problems.append(
            f"--org-url {value!r} is the Admin Console's address, not the API's: use {org}"
        )
        return ""
    return f"{parts.scheme}://{parts.netloc}"


_OKTA_DOMAINS = {"okta.com", "oktapreview.com", "okta-emea.com", "okta-gov.com", "okta.mil"}
"""Okta's own domains, where ORG-admin.DOMAIN is an org's Admin Console (a custom domain
may be named anything)."""


def _profile(values: Values, strict: bool, allow_private: bool) -> Profile | None:
    name = values.value("profile")
    if not name:
        return None
    direction = values.value("direction", if_invalid=None)
    if direction is None:
        return None
    from okta_risk_output.intake.profiles import load_profile  # only when a profile is named

    try:
        return load_profile(
            name, direction=direction, strict=strict, allow_non_global_ips=allow_private
        )
    except ConfigError as exc:
        values.problems.extend(exc.problems)
        return None


def record_mapper(settings: Settings, validator: Validator | None = None) -> RecordMapper:
    """The RecordMapper for these settings: `run` (shipper.py) and `validate` use this one,
    so they map every line alike."""
    from okta_risk_output.intake.records import RecordMapper

    return RecordMapper(
        strict=settings.strict,
        default_expires_in=settings.default_expires_in,
        max_line_bytes=settings.max_line_bytes,
        validator=validator,
        profile=settings.profile,
        allow_non_global_ips=settings.allow_non_global_ips,
    )


def dry_run_settings(settings: Settings, workdir: str) -> Settings:
    """The settings with a spool and a dead-letter file of their own in `workdir` (a
    temporary directory the caller removes).

    A dry run acknowledges what it "sends": on the real spool that would drop events that
    were never delivered, and the real dead-letter file would fill with a rehearsal's
    rejects. The WARN line for each rejected line still says what was wrong.
    """
    return dataclasses.replace(
        settings,
        spool=os.path.join(workdir, "spool.db"),
        dead_letter=os.path.join(workdir, "dead-letter.jsonl"),
    )
