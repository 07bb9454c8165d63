"""The emulator's options: a table of the same kind as config/table.py's settings, and the
parsers it names. No environment variables: the emulator is configured by its flags alone.
The command (cli/emulator.py) gets one parameter per entry, named after it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from okta_risk_output.config import parsers
from okta_risk_output.config.table import Setting
from okta_risk_output.emulator.config import RegisteredClient, check_statuses, normalize_ip
from okta_risk_output.units import parse_duration, parse_rate

__all__ = ["OPTIONS"]


def _window(value: str) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("a window must be longer than 0 s")
    return seconds


def _statuses(value: str) -> tuple[int, ...]:
    try:
        return check_statuses(tuple(int(part) for part in value.split(",") if part.strip()))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a list of HTTP statuses (2xx, 4xx, 5xx) like 503,503,202"
        ) from None


def _ips(values: tuple[str, ...]) -> frozenset[str]:
    ips = set()
    for value in values:
        try:
            ips.add(normalize_ip(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
    return frozenset(ips)


def _clients(values: tuple[str, ...]) -> tuple[RegisteredClient, ...]:
    """CLIENT_ID=PATH, PATH a public JWK or a JWK set; a repeated client id adds keys."""
    keys: dict[str, list[dict[str, object]]] = {}
    for value in values:
        client_id, sep, path = value.partition("=")
        if not sep or not client_id.strip() or not path:
            raise ValueError(f"{value!r} is not CLIENT_ID=PATH_TO_PUBLIC_JWK")
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as problem:
            raise ValueError(f"cannot read a JWK from {path}: {problem}") from None
        found = document.get("keys") if isinstance(document, dict) else None
        found = found if isinstance(found, list) else [document]
        keys.setdefault(client_id.strip(), []).extend(found)
    return tuple(RegisteredClient(cid, tuple(jwks)) for cid, jwks in keys.items())


_SERVER = "Server"
_LIMITS = "Rate limit"
_FAULTS = "Faults"
_OAUTH = "OAuth clients"


def _option(name: str, group: str, help_text: str, **fields: Any) -> Setting:
    return Setting(name, group, help_text, commands=("emulator",), **fields)


OPTIONS = (
    _option("host", _SERVER, "Address to listen on.", metavar="HOST", default="127.0.0.1"),
    _option(
        "port",
        _SERVER,
        "Port to listen on; 0 picks a free one. The URL is the first line on stdout.",
        metavar="PORT",
        default="0",
        parse=click.IntRange(0, 65535),
    ),
    _option(
        "api_token",
        _SERVER,
        "The only SSWS token accepted. Without it any non-empty token is.",
        metavar="TOKEN",
        parse=parsers.text,
    ),
    _option(
        "record",
        _SERVER,
        "Append each accepted request as one JSON line to this file.",
        metavar="FILE",
        parse=click.Path(dir_okay=False, path_type=Path),
    ),
    _option("verbose", _SERVER, "Log every request on stderr.", aliases=("-v",)),
    _option(
        "rate_limit",
        _LIMITS,
        "Requests allowed per window (the count) and the default window (the period).",
        metavar="RATE",
        default="30/min",
        parse=parse_rate,
    ),
    _option(
        "window",
        _LIMITS,
        "Length of a rate-limit window, e.g. 60s; defaults to the rate's period.",
        metavar="DURATION",
        parse=_window,
    ),
    _option(
        "foreign_load",
        _LIMITS,
        "Another client of the org spending the same budget, e.g. 9/min.",
        metavar="RATE",
        parse=parse_rate,
    ),
    _option(
        "fail_rate",
        _FAULTS,
        "Fraction of requests answered 503.",
        metavar="FRACTION",
        default="0.0",
        parse=click.FloatRange(0.0, 1.0),
    ),
    _option(
        "seed", _FAULTS, "Seed for --fail-rate, for repeatable runs.", metavar="N", parse=click.INT
    ),
    _option(
        "latency",
        _FAULTS,
        "Delay before each answer, e.g. 250ms.",
        metavar="DURATION",
        default="0s",
        parse=parse_duration,
    ),
    _option(
        "script",
        _FAULTS,
        "Statuses for the next requests in order, e.g. 503,503,202; then normal behaviour.",
        metavar="STATUSES",
        default="",
        parse=_statuses,
    ),
    _option(
        "outage_after",
        _FAULTS,
        "Start an outage this long after startup (default: at startup, if --outage-for).",
        metavar="DURATION",
        parse=parse_duration,
    ),
    _option(
        "outage_for",
        _FAULTS,
        "Length of the outage (default: until stopped, if --outage-after).",
        metavar="DURATION",
        parse=parse_duration,
    ),
    _option(
        "outage_mode",
        _FAULTS,
        "During the outage answer 503, or close connections without answering.",
        metavar="MODE",
        default="503",
        parse=click.Choice(["503", "reset"]),
    ),
    _option(
        "reject_ip",
        _FAULTS,
        "Refuse (400 E0000001) any request naming this subject IP. Repeatable.",
        metavar="IP",
        parse=_ips,
        multiple=True,
    ),
    _option(
        "endpoint_off",
        _FAULTS,
        "Answer 404 E0000007, as an org where Okta switched the endpoint off.",
    ),
    _option(
        "client",
        _OAUTH,
        "Register an OAuth service app by its public JWK (or JWK set) file; it is granted "
        "okta.riskEvents.manage. Repeatable. SSWS then needs --api-token.",
        metavar="CLIENT_ID=PATH",
        parse=_clients,
        multiple=True,
    ),
    _option(
        "new_client",
        _OAUTH,
        "Write a client key pair to DIR (private_key.pem, mode 0600, and public_jwk.json), "
        "print a new client id and exit.",
        metavar="DIR",
        parse=click.Path(file_okay=False, path_type=Path),
    ),
    _option(
        "disable_client",
        _OAUTH,
        "Answer this registered client's token requests with invalid_client. Repeatable.",
        metavar="CLIENT_ID",
        parse=parsers.text,
        multiple=True,
    ),
    _option(
        "require_dpop",
        _OAUTH,
        "Refuse token requests without a DPoP proof, as apps that require DPoP do.",
    ),
    _option(
        "token_lifetime",
        _OAUTH,
        "How long issued access tokens are valid.",
        metavar="DURATION",
        default="3600s",
        parse=parse_duration,
    ),
)
"""In `--help` order; each group is a section."""
