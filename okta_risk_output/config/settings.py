"""One frozen Settings, built from flags and the environment, checked once, every error at once.

Precedence: a flag beats the environment. Secrets come from OKTA_API_TOKEN, or from a file
(--api-token-file / OKTA_API_TOKEN_FILE) so they stay out of process listings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_risk_output.delivery.packing import PackLimits
from okta_risk_output.delivery.retry import RetryPolicy
from okta_risk_output.errors import ConfigError
from okta_risk_output.intake.profiles import Profile, load_profile
from okta_risk_output.intake.records import RecordMapper
from okta_risk_output.intake.validation import Validator
from okta_risk_output.net import is_loopback
from okta_risk_output.okta.auth import Secret
from okta_risk_output.spool.sqlite import OVERFLOW_POLICIES, SpoolPolicy
from okta_risk_output.units import Rate, parse_duration, parse_rate, parse_size

if TYPE_CHECKING:
    from okta_risk_output.okta.oauth import OAuthSettings

__all__ = [
    "DEFAULTS",
    "ENV",
    "Settings",
    "build_settings",
    "default_spool_path",
    "dry_run_settings",
    "record_mapper",
]

ENV = {
    "org_url": "OKTA_ORG_URL",
    "api_token": "OKTA_API_TOKEN",
    "api_token_file": "OKTA_API_TOKEN_FILE",
    "auth": "OKTA_AUTH",
    "client_id": "OKTA_CLIENT_ID",
    "private_key": "OKTA_PRIVATE_KEY",
    "private_key_file": "OKTA_PRIVATE_KEY_FILE",
    "key_id": "OKTA_KEY_ID",
    "scopes": "OKTA_SCOPES",
    "dpop": "OKTA_DPOP",
    "token_cache": "OKTA_TOKEN_CACHE",
    "ca_bundle": "OKTA_RISK_CA_BUNDLE",
    "profile": "OKTA_RISK_PROFILE",
    "direction": "OKTA_RISK_DIRECTION",
    "allow_non_global_ips": "OKTA_RISK_ALLOW_NON_GLOBAL_IPS",
    "dead_letter": "OKTA_RISK_DEAD_LETTER",
    "rate_limit": "OKTA_RISK_RATE_LIMIT",
    "max_events_per_request": "OKTA_RISK_MAX_EVENTS_PER_REQUEST",
    "linger": "OKTA_RISK_LINGER",
    "default_expires_in": "OKTA_RISK_DEFAULT_EXPIRES_IN",
    "max_line_bytes": "OKTA_RISK_MAX_LINE_BYTES",
    "timeout": "OKTA_RISK_TIMEOUT",
    "max_backoff": "OKTA_RISK_MAX_BACKOFF",
    "max_retry_age": "OKTA_RISK_MAX_RETRY_AGE",
    "log_level": "OKTA_RISK_LOG_LEVEL",
    "spool": "OKTA_RISK_SPOOL",
    "spool_max_events": "OKTA_RISK_SPOOL_MAX_EVENTS",
    "spool_max_bytes": "OKTA_RISK_SPOOL_MAX_BYTES",
    "overflow": "OKTA_RISK_OVERFLOW",
    "spool_sync": "OKTA_RISK_SPOOL_SYNC",
    "eof_timeout": "OKTA_RISK_EOF_TIMEOUT",
    "shutdown_timeout": "OKTA_RISK_SHUTDOWN_TIMEOUT",
    "max_subjects_per_event": "OKTA_RISK_MAX_SUBJECTS_PER_EVENT",
    "pack_granularity": "OKTA_RISK_PACK_GRANULARITY",
    "coalesce_window": "OKTA_RISK_COALESCE_WINDOW",
    "no_coalesce": "OKTA_RISK_NO_COALESCE",
    "log_format": "OKTA_RISK_LOG_FORMAT",
    "stats_interval": "OKTA_RISK_STATS_INTERVAL",
    "metrics_file": "OKTA_RISK_METRICS_FILE",
    "metrics_port": "OKTA_RISK_METRICS_PORT",
    "metrics_host": "OKTA_RISK_METRICS_HOST",
}
"""Setting -> environment variable. --help and the README list the same names."""

DEFAULTS: dict[str, str] = {
    "dead_letter": "okta-risk-dead-letter.jsonl",
    "rate_limit": "30/min",
    "max_events_per_request": "20",
    "linger": "2s",
    "max_line_bytes": "1048576",
    "timeout": "30s",
    "max_backoff": "60s",
    "log_level": "INFO",
    "scopes": "okta.riskEvents.manage",
    "dpop": "auto",
    "spool_max_events": "1000000",
    "spool_max_bytes": "512MiB",
    "overflow": "drop-lowest-risk",
    "spool_sync": "normal",
    "shutdown_timeout": "4s",
    "max_subjects_per_event": "50",
    "pack_granularity": "1s",
    "log_format": "text",
    "stats_interval": "60s",
    "metrics_host": "127.0.0.1",
}

MAX_EVENTS_PER_REQUEST = 20
MAX_SUBJECTS_PER_EVENT = 50
"""Okta's own limits; a larger setting would only earn 400s."""


@dataclass(frozen=True)
class Settings:
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
    log_format: str = "text"
    stats_interval: float = 60.0
    metrics_file: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


def build_settings(
    options: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
    *,
    delivery: bool = True,
) -> Settings:
    """Settings from raw flag values (None when not given) and the environment.

    Without `delivery` (enqueue, status) the org URL and credential are not required.
    """
    problems: list[str] = []

    def raw(name: str) -> str | None:
        value = options.get(name)
        if value is None:
            value = environ.get(ENV[name]) or DEFAULTS.get(name)
        return None if value is None else str(value)

    def parsed(name: str, parse: Any, default: Any = None) -> Any:
        text = raw(name)
        if text is None:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            problems.append(f"--{name.replace('_', '-')}: {exc}")
            return default

    timeout = parsed("timeout", _positive_duration, 30.0)
    org_url = token = None
    if delivery or raw("org_url"):
        org_url = _org_url(raw("org_url"), problems)
    oauth = None
    if delivery:
        method = _auth_method(raw, environ, problems)
        if method == "ssws":
            token = _token(raw("api_token_file"), environ.get(ENV["api_token"]), problems)
        elif method == "oauth" and org_url:
            oauth = _oauth(raw, environ, org_url, timeout, problems)
    overflow = raw("overflow") or DEFAULTS["overflow"]
    if overflow not in OVERFLOW_POLICIES:
        problems.append(f"--overflow: {overflow!r} is not one of {', '.join(OVERFLOW_POLICIES)}")
    spool_sync = (raw("spool_sync") or "normal").lower()
    if spool_sync not in ("normal", "full"):
        problems.append(f"--spool-sync: {spool_sync!r} is not normal or full")
    spool_policy = SpoolPolicy(
        max_events=parsed("spool_max_events", _positive_int, 1_000_000),
        max_bytes=parsed("spool_max_bytes", parse_size, 512 << 20),
        overflow=overflow,
        coalesce=not _flag(raw("no_coalesce")),
        coalesce_window=parsed("coalesce_window", _positive_duration),
    )
    per_event = parsed("max_subjects_per_event", int, MAX_SUBJECTS_PER_EVENT)
    if not 1 <= per_event <= MAX_SUBJECTS_PER_EVENT:
        problems.append(f"--max-subjects-per-event: {per_event} is not between 1 and 50")
    rate = parsed("rate_limit", parse_rate, Rate(30, 60.0))
    per_request = parsed("max_events_per_request", int, MAX_EVENTS_PER_REQUEST)
    if not 1 <= per_request <= MAX_EVENTS_PER_REQUEST:
        problems.append(f"--max-events-per-request: {per_request} is not between 1 and 20")
    max_line_bytes = parsed("max_line_bytes", int, 1 << 20)
    if max_line_bytes < 64:
        problems.append(f"--max-line-bytes: {max_line_bytes} is too small (at least 64)")
    retry = RetryPolicy(
        backoff_max=parsed("max_backoff", _positive_duration, 60.0),
        max_retry_age=parsed("max_retry_age", _positive_duration),
    )
    log_level = (raw("log_level") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR"):
        problems.append(f"--log-level: {log_level!r} is not DEBUG, INFO, WARN or ERROR")
    log_format = (raw("log_format") or "text").lower()
    if log_format not in ("text", "json"):
        problems.append(f"--log-format: {log_format!r} is not text or json")
    metrics_port = parsed("metrics_port", int)
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        problems.append(f"--metrics-port: {metrics_port} is not a port (0 to 65535)")
    strict = bool(options.get("strict"))
    allow_private = _flag(raw("allow_non_global_ips"))
    settings = Settings(
        org_url=org_url or "",
        api_token=token or Secret(""),
        oauth=oauth,
        dead_letter=raw("dead_letter") or DEFAULTS["dead_letter"],
        rate=rate,
        packing=PackLimits(
            max_subjects=per_event,
            max_events=per_request,
            granularity=parsed("pack_granularity", _positive_duration, 1.0),
        ),
        linger=parsed("linger", _duration, 2.0),
        default_expires_in=parsed("default_expires_in", _positive_duration),
        max_line_bytes=max_line_bytes,
        strict=strict,
        profile=_profile(raw("profile"), raw("direction"), strict, allow_private, problems),
        allow_non_global_ips=allow_private,
        timeout=timeout,
        retry=retry,
        log_level="WARNING" if log_level == "WARN" else log_level,
        ca_bundle=_ca_bundle(raw("ca_bundle"), problems),
        spool=raw("spool") or default_spool_path(environ),
        spool_policy=spool_policy,
        spool_sync=spool_sync,
        eof_timeout=parsed("eof_timeout", _duration),
        shutdown_timeout=parsed("shutdown_timeout", _positive_duration, 4.0),
        log_format=log_format,
        stats_interval=parsed("stats_interval", _duration, 60.0),
        metrics_file=raw("metrics_file"),
        metrics_port=metrics_port,
        metrics_host=raw("metrics_host") or "127.0.0.1",
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1")
    return value


def _duration(text: str) -> float:
    return parse_duration(text)


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be more than zero")
    return seconds


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
    return f"{parts.scheme}://{parts.netloc}"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _profile(
    name: str | None,
    direction: str | None,
    strict: bool,
    allow_private: bool,
    problems: list[str],
) -> Profile | None:
    if not name:
        return None
    direction = (direction or "source").lower()
    if direction not in ("source", "destination"):
        problems.append(f"--direction: {direction!r} is not source or destination")
        return None
    try:
        return load_profile(
            name, direction=direction, strict=strict, allow_non_global_ips=allow_private
        )
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _ca_bundle(path: str | None, problems: list[str]) -> str | None:
    if path and not os.path.isfile(path):
        problems.append(f"--ca-bundle: {path} is not a file")
    return path or None


def _auth_method(raw: Any, environ: Mapping[str, str], problems: list[str]) -> str:
    """ssws or oauth: as told, else oauth when a client id is set, else ssws."""
    method = (raw("auth") or "").lower()
    has_token = bool(environ.get(ENV["api_token"]) or raw("api_token_file"))
    has_client = bool(raw("client_id"))
    if method and method not in ("ssws", "oauth"):
        problems.append(f"--auth: {method!r} is not ssws or oauth")
        return ""
    if not method:
        if has_token and has_client:
            problems.append(
                "both an API token and an OAuth client id are set; choose one with --auth"
            )
            return ""
        method = "oauth" if has_client else "ssws"
    return method


def _oauth(
    raw: Any, environ: Mapping[str, str], org_url: str, timeout: float, problems: list[str]
) -> OAuthSettings | None:
    # Imported here: PyJWT and cryptography cost start-up time an SSWS run need not pay.
    from pathlib import Path

    from okta_risk_output.okta.keys import load_private_key, read_private_key_file
    from okta_risk_output.okta.oauth import OAuthSettings

    client_id = raw("client_id")
    if not client_id:
        problems.append("OAuth needs a client id: set --client-id or OKTA_CLIENT_ID")
    key_file, key_text = raw("private_key_file"), environ.get(ENV["private_key"])
    if bool(key_file) == bool(key_text):
        problems.append(
            "OAuth needs exactly one private key: --private-key-file (OKTA_PRIVATE_KEY_FILE) "
            "or OKTA_PRIVATE_KEY"
        )
        return None
    try:
        if key_file:
            key = read_private_key_file(Path(key_file), kid=raw("key_id"))
        else:
            # keys.py reads a PEM whose newlines are escaped to fit one environment line.
            key = load_private_key(key_text or "", source="OKTA_PRIVATE_KEY", kid=raw("key_id"))
        cache = raw("token_cache")
        return OAuthSettings(
            org_url=org_url,
            client_id=client_id or "",
            key=key,
            scopes=tuple((raw("scopes") or "").replace(",", " ").split()),
            dpop=(raw("dpop") or "auto").lower(),  # type: ignore[arg-type]
            token_cache=Path(cache) if cache else None,
            timeout=timeout,
        )
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _checked_token(value: str, where: str, problems: list[str]) -> Secret:
    """A token must be one word of visible ASCII; anything else would be refused when put in
    an HTTP header, and some libraries quote the header in their error. Never quoted here."""
    if not all("!" <= c <= "~" for c in value):
        problems.append(
            f"{where} holds more than one word of visible ASCII (a second line, a space, a "
            "control or non-ASCII character); it must hold the token alone"
        )
    return Secret(value)


def _token(path: str | None, env_value: str | None, problems: list[str]) -> Secret:
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            problems.append(f"cannot read the API token file {path}: {exc.strerror}")
            return Secret("")
        if not value:
            problems.append(f"the API token file {path} is empty")
        return _checked_token(value, f"the API token file {path}", problems)
    if env_value and env_value.strip():
        return _checked_token(env_value.strip(), "OKTA_API_TOKEN", problems)
    problems.append("the API token is missing: set OKTA_API_TOKEN or --api-token-file")
    return Secret("")


def record_mapper(settings: Settings, validator: Validator | None = None) -> RecordMapper:
    """The RecordMapper for these settings: `run` (shipper.py) and `validate` use this one,
    so they map every line alike."""
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
