"""A Splunk custom alert action: what `okta-risk-output splunk --execute` does for it.

splunkd runs the app's bin/okta_risk.py with `--execute` and the alert's JSON payload on
stdin; that script, running in Splunk's own Python, hands the payload to this command
(see integrations/splunk/). Here:

- the payload names `results_file`, a gzipped CSV holding every result row, and carries the
  alert action's `param.*` settings under `configuration`;
- each row becomes one flat signal per address in the configured ip field (a multivalue
  field holds several), with the risk level and message from their configured fields, else
  the configured default level and the search's name; or, with a profile, the row goes to
  the profile as a record (e.g. `splunk-es` for notable events);
- the credential comes from Splunk's password store (`storage/passwords`, read with the
  payload's `session_key` at its `server_uri`) when `credential_user` is set, else from the
  environment as for any run.

Exit codes follow Splunk's convention for alert scripts (see `splunk_exit_code`).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from okta_risk_output.config.table import ENV
from okta_risk_output.errors import ConfigError, ExitStatus
from okta_risk_output.intake.reader import KEEP_OF_OVERSIZED, Line
from okta_risk_output.net import is_loopback_url
from okta_risk_output.okta.answers import json_object
from okta_risk_output.okta.secret import Secret
from okta_risk_output.okta.session import HeaderRefused, bounded_request, new_session
from okta_risk_output.units import parse_duration

__all__ = [
    "APP",
    "AlertSettings",
    "PayloadError",
    "SplunkAlert",
    "alert_lines",
    "fetch_secret",
    "parse_payload",
    "row_records",
    "splunk_exit_code",
]

APP = "okta_risk_output"
"""The Splunk app's id: its folder under $SPLUNK_HOME/etc/apps, where its credential lives."""

DEFAULTS = {
    "ip_field": "src_ip",
    "risk_field": "risk_level",
    "message_field": "message",
    "default_risk_level": "MEDIUM",
    "deadline": "2m",
    "credential_realm": APP,
}
"""The app's alert_actions.conf carries the same defaults; these cover a bare payload."""

_LEVELS = {
    "high": "HIGH",
    "critical": "HIGH",
    "medium": "MEDIUM",
    "low": "LOW",
    "informational": "LOW",
    "info": "LOW",
}
"""Okta's three levels, and Splunk's urgency words folded onto them."""

SPLUNKD_MAX_ANSWER = 4 << 20
"""storage/passwords lists every credential the app can see, a few hundred bytes each:
larger than Okta's answers, still read no further than this."""

_CSV_FIELD_LIMIT = 16 << 20
"""csv's default (128 KiB per field) is too small for some _raw values."""


class PayloadError(Exception):
    """splunkd's payload or results file cannot be read: a fault of the setup, not of a row."""


@dataclass(frozen=True)
class SplunkAlert:
    """The parts of splunkd's payload this action uses."""

    results_file: str
    search_name: str
    sid: str
    server_uri: str
    session_key: str = ""
    configuration: Mapping[str, str] | None = None

    def param(self, name: str) -> str:
        value = (self.configuration or {}).get(name)
        text = "" if value is None else str(value).strip()
        return text or DEFAULTS.get(name, "")


@dataclass(frozen=True)
class AlertSettings:
    ip_field: str
    risk_field: str
    message_field: str
    default_risk_level: str
    deadline: float
    profile: str

    @classmethod
    def of(cls, alert: SplunkAlert) -> AlertSettings:
        problems: list[str] = []
        level = _LEVELS.get(alert.param("default_risk_level").lower())
        if level is None:
            problems.append(
                f"default_risk_level {alert.param('default_risk_level')!r} is not HIGH, MEDIUM "
                "or LOW"
            )
        try:
            deadline = parse_duration(alert.param("deadline"))
        except ValueError as exc:
            problems.append(f"deadline: {exc}")
            deadline = 0.0
        if not problems and deadline <= 0:
            problems.append("deadline must be more than zero")
        if problems:
            raise ConfigError(problems)
        return cls(
            ip_field=alert.param("ip_field"),
            risk_field=alert.param("risk_field"),
            message_field=alert.param("message_field"),
            default_risk_level=level or "MEDIUM",
            deadline=deadline,
            profile=alert.param("profile"),
        )


def parse_payload(data: bytes) -> SplunkAlert:
    try:
        payload = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(
            f"the payload on stdin is not JSON ({exc}); is payload_format = json?"
        ) from None
    if not isinstance(payload, dict):
        raise PayloadError("the payload on stdin is not a JSON object")
    results_file = payload.get("results_file")
    if not isinstance(results_file, str) or not results_file:
        raise PayloadError("the payload names no results_file")
    configuration = payload.get("configuration")
    return SplunkAlert(
        results_file=results_file,
        search_name=str(payload.get("search_name") or ""),
        sid=str(payload.get("sid") or ""),
        server_uri=str(payload.get("server_uri") or ""),
        session_key=str(payload.get("session_key") or ""),
        configuration=configuration if isinstance(configuration, dict) else {},
    )


def settings_options(alert: SplunkAlert, environ: Mapping[str, str]) -> dict[str, Any]:
    """Flag values for build_settings: the alert's params, then Splunk-friendly defaults
    for the spool and dead-letter file (under $SPLUNK_HOME, the folder made on first use)
    unless the environment sets them.
    """
    options: dict[str, Any] = {
        "org_url": alert.param("org_url") or None,
        "default_expires_in": alert.param("expires_in") or None,
        "profile": alert.param("profile") or None,
        "client_id": alert.param("client_id") or None,
        "spool": alert.param("spool") or None,
        "dead_letter": alert.param("dead_letter") or None,
    }
    home = environ.get("SPLUNK_HOME")
    if home:
        state = os.path.join(home, "var", "lib", "okta-risk-output")
        if not options["spool"] and not environ.get(ENV["spool"]):
            options["spool"] = os.path.join(state, "spool.db")
        if not options["dead_letter"] and not environ.get(ENV["dead_letter"]):
            options["dead_letter"] = os.path.join(state, "dead-letter.jsonl")
            os.makedirs(state, exist_ok=True)
    return options


# -- results ---------------------------------------------------------------------------


def result_rows(path: str) -> Iterator[dict[str, str]]:
    """Every row of splunkd's gzipped CSV results, as field -> value."""
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            yield from csv.DictReader(handle)
    except (OSError, EOFError, csv.Error) as exc:
        raise PayloadError(f"cannot read the results file {path}: {exc}") from None


def row_records(row: Mapping[str, str], settings: AlertSettings, search_name: str) -> list[Any]:
    """The records one result row becomes: flat signals, or the row itself for a profile."""
    if settings.profile:
        # Splunk's own columns (_raw, _cd, __mv_*) mean nothing to a profile, except _time.
        return [
            {
                k: v
                for k, v in row.items()
                if k and v != "" and (not k.startswith("_") or k == "_time")
            }
        ]
    first = (row.get(settings.risk_field) or "").strip().split("\n")[0].strip()
    signal: dict[str, Any] = {
        "riskLevel": _LEVELS.get(first.lower(), first) or settings.default_risk_level,
        "message": (row.get(settings.message_field) or "").strip()
        or f"Splunk alert {search_name}".strip(),
    }
    if row.get("_time"):
        signal["timestamp"] = row["_time"]
    # A multivalue field holds its values one per line.
    ips = [v.strip() for v in (row.get(settings.ip_field) or "").split("\n") if v.strip()]
    # A row without an address still becomes a line, so it is dead-lettered with a reason.
    return [{"ip": ip, **signal} for ip in ips] or [signal]


def alert_lines(alert: SplunkAlert, settings: AlertSettings, max_bytes: int) -> Iterator[Line]:
    """Numbered lines for intake, one per record; a line's number is its row's."""
    source = f"splunk:{alert.search_name or alert.sid}"
    for number, row in enumerate(result_rows(alert.results_file), start=1):
        for record in row_records(row, settings, alert.search_name):
            data = json.dumps(record, ensure_ascii=False).encode("utf-8")
            if len(data) > max_bytes:
                yield Line(source, number, data[:KEEP_OF_OVERSIZED], len(data), oversized=True)
            else:
                yield Line(source, number, data, len(data))


# -- the password store ----------------------------------------------------------------


def fetch_secret(alert: SplunkAlert, *, timeout: float = 10.0) -> Secret:
    """The credential stored as realm:user in the app's storage/passwords.

    Read with the alert owner's session key, who needs the list_storage_passwords
    capability. splunkd's management port normally serves its own self-signed certificate;
    it is verified unless the URI is a loopback address (the script runs on that splunkd's
    host, and the certificate names no address anyway).
    """
    realm, user = alert.param("credential_realm"), alert.param("credential_user")
    if not alert.server_uri or not alert.session_key:
        raise ConfigError(
            ["credential_user is set but the payload carries no server_uri or session_key"]
        )
    url = f"{alert.server_uri.rstrip('/')}/servicesNS/nobody/{APP}/storage/passwords"
    host = _host(alert.server_uri)
    verify = not is_loopback_url(alert.server_uri)
    try:
        with warnings.catch_warnings(), new_session() as session:
            # urllib3 warns about the unverified loopback request on stderr, where splunkd
            # expects every line to start with a level word.
            warnings.simplefilter("ignore")
            answer = bounded_request(
                session,
                "GET",
                url,
                seconds=timeout,
                limit=SPLUNKD_MAX_ANSWER,
                params={"output_mode": "json", "count": "0"},
                headers={"Authorization": f"Splunk {alert.session_key}"},
                timeout=timeout,
                verify=verify,  # False for loopback only, see the docstring
            )
    except HeaderRefused:
        raise ConfigError(
            ["the payload's session_key cannot be sent in an HTTP header (invalid characters)"]
        ) from None
    except requests.RequestException as exc:
        # Only the type and the host: requests' messages can quote the request's headers,
        # and one of them carries the session key.
        raise ConfigError([f"cannot reach splunkd at {host} ({type(exc).__name__})"]) from None
    if answer.status_code in (401, 403):
        raise ConfigError(
            [
                "splunkd refused to read its password store (HTTP "
                f"{answer.status_code}): the alert's owner needs list_storage_passwords"
            ]
        )
    where = f"storage/passwords at {host}"  # not the URI: it may carry user:password@
    if answer.status_code != 200:
        raise ConfigError([f"splunkd answered HTTP {answer.status_code} for {where}"])
    if len(answer.content) > SPLUNKD_MAX_ANSWER:
        raise ConfigError([f"splunkd's answer for {where} is over {SPLUNKD_MAX_ANSWER >> 20} MiB"])
    entries = json_object(answer, SPLUNKD_MAX_ANSWER).get("entry")
    if not isinstance(entries, list):
        raise ConfigError([f"splunkd's answer for {where} is not JSON with an entry list"])
    for entry in entries:
        content = entry.get("content") if isinstance(entry, dict) else None
        if not isinstance(content, dict):
            continue
        if content.get("realm") == realm and content.get("username") == user:
            password = content.get("clear_password")
            if isinstance(password, str) and password.strip():
                return Secret(password.strip())
    raise ConfigError(
        [
            f"no credential realm={realm!r} user={user!r} in the password store of app {APP}; "
            "store one (docs/hosts.md, Splunk) or clear credential_user to use the environment"
        ]
    )


def _host(uri: str) -> str:
    """host[:port] of a URI, without any user:password@ it may carry."""
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "an unparseable address"
    return f"{host}:{port}" if port else host


# -- exit codes ------------------------------------------------------------------------


def splunk_exit_code(status: int, *, signals_missed: int) -> int:
    """Splunk's convention for alert scripts: 0 success, 2 delivery failed, 3 unexpected.

    (1, a mode other than --execute, is decided before any of this.) Delivery failed covers
    what the operator must fix: settings, a credential Okta refuses, a spool that cannot
    take the rows. Events left spooled when the deadline passed are not a failure: the
    next run, or a drain, sends them.
    """
    if status == ExitStatus.UNEXPECTED:
        return 3
    if status != ExitStatus.OK or signals_missed:
        return 2
    return 0
