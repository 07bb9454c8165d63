"""`okta-risk-output emulator`: run the local Okta org until SIGTERM or Ctrl-C.

Stdout carries exactly one line, the base URL, so that scripts can start the emulator with
`--port 0` and read where it listens; everything else is a one-line log on stderr.
`--new-client DIR` instead makes an OAuth client key pair, prints the new client id and exits.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from okta_risk_output.emulator.server import Emulator
from okta_risk_output.emulator.state import (
    EmulatorConfig,
    OutageMode,
    RegisteredClient,
    check_statuses,
    normalize_ip,
)
from okta_risk_output.units import Rate, parse_duration, parse_rate

__all__ = ["emulator_command"]

log = logging.getLogger("okta_risk_output.emulator")

_LEVEL_WORDS = {"WARNING": "WARN", "CRITICAL": "ERROR"}


# Option callbacks rather than ParamType subclasses: ParamType is generic only from click 8.2.


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    try:
        return None if value is None else parse_duration(value)
    except ValueError as problem:
        raise click.BadParameter(str(problem)) from None


def _window(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    seconds = _duration(ctx, param, value)
    if seconds is not None and seconds <= 0:
        raise click.BadParameter("a window must be longer than 0 s")
    return seconds


def _rate(ctx: click.Context, param: click.Parameter, value: str) -> Rate:
    try:
        return parse_rate(value)
    except ValueError as problem:
        raise click.BadParameter(str(problem)) from None


def _statuses(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return check_statuses(tuple(int(part) for part in value.split(",") if part.strip()))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a list of HTTP statuses (2xx, 4xx, 5xx) like 503,503,202"
        ) from None


def _ips(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> frozenset[str]:
    ips = set()
    for value in values:
        try:
            ips.add(normalize_ip(value))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an IPv4 or IPv6 address") from None
    return frozenset(ips)


def _clients(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[RegisteredClient, ...]:
    """CLIENT_ID=PATH, PATH a public JWK or a JWK set; a repeated client id adds keys."""
    keys: dict[str, list[dict[str, object]]] = {}
    for value in values:
        client_id, sep, path = value.partition("=")
        if not sep or not client_id.strip() or not path:
            raise click.BadParameter(f"{value!r} is not CLIENT_ID=PATH_TO_PUBLIC_JWK")
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as problem:
            raise click.BadParameter(f"cannot read a JWK from {path}: {problem}") from None
        found = document.get("keys") if isinstance(document, dict) else None
        found = found if isinstance(found, list) else [document]
        keys.setdefault(client_id.strip(), []).extend(found)
    try:
        return tuple(RegisteredClient(cid, tuple(jwks)) for cid, jwks in keys.items())
    except ValueError as problem:
        raise click.BadParameter(str(problem)) from None


class _LevelWordFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = _LEVEL_WORDS.get(record.levelname, record.levelname)
        # One line per entry, even when a message carries a newline.
        return f"{level} {record.getMessage()}".replace("\n", " ")


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on; 0 picks a free one. The URL is the first line on stdout.",
)
@click.option(
    "--api-token",
    metavar="TOKEN",
    help="The only SSWS token accepted. Without it any non-empty token is.",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append each accepted request as one JSON line to this file.",
)
@click.option(
    "--rate-limit",
    "rate",
    metavar="RATE",
    callback=_rate,
    default="30/min",
    show_default=True,
    help="Requests allowed per window (the count) and the default window (the period).",
)
@click.option(
    "--window",
    metavar="DURATION",
    callback=_window,
    help="Length of a rate-limit window, e.g. 60s; defaults to the rate's period.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Fraction of requests answered 503.",
)
@click.option("--seed", type=int, help="Seed for --fail-rate, for repeatable runs.")
@click.option(
    "--latency",
    metavar="DURATION",
    callback=_duration,
    default="0s",
    show_default=True,
    help="Delay before each answer, e.g. 250ms.",
)
@click.option(
    "--script",
    metavar="STATUSES",
    callback=_statuses,
    default="",
    help="Statuses for the next requests in order, e.g. 503,503,202; then normal behaviour.",
)
@click.option(
    "--outage-after",
    metavar="DURATION",
    callback=_duration,
    help="Start an outage this long after startup (default: at startup, if --outage-for).",
)
@click.option(
    "--outage-for",
    metavar="DURATION",
    callback=_duration,
    help="Length of the outage (default: until stopped, if --outage-after).",
)
@click.option(
    "--outage-mode",
    type=click.Choice(["503", "reset"]),
    default="503",
    show_default=True,
    help="During the outage answer 503, or close connections without answering.",
)
@click.option(
    "--reject-ip",
    "reject_ips",
    metavar="IP",
    callback=_ips,
    multiple=True,
    help="Refuse (400 E0000001) any request naming this subject IP. Repeatable.",
)
@click.option(
    "--endpoint-off",
    is_flag=True,
    help="Answer 404 E0000007, as an org where Okta switched the endpoint off.",
)
@click.option(
    "--foreign-load",
    metavar="RATE",
    default=None,
    callback=lambda ctx, param, value: None if value is None else _rate(ctx, param, value),
    help="Another client of the org spending the same budget, e.g. 9/min.",
)
@click.option(
    "--client",
    "clients",
    metavar="CLIENT_ID=PATH",
    callback=_clients,
    multiple=True,
    help="Register an OAuth service app by its public JWK (or JWK set) file; it is granted "
    "okta.riskEvents.manage. Repeatable. SSWS then needs --api-token.",
)
@click.option(
    "--new-client",
    "new_client_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a client key pair to DIR (private_key.pem, mode 0600, and public_jwk.json), "
    "print a new client id and exit.",
)
@click.option(
    "--disable-client",
    "disabled_clients",
    metavar="CLIENT_ID",
    multiple=True,
    help="Answer this registered client's token requests with invalid_client. Repeatable.",
)
@click.option(
    "--require-dpop",
    is_flag=True,
    help="Refuse token requests without a DPoP proof, as apps that require DPoP do.",
)
@click.option(
    "--token-lifetime",
    metavar="DURATION",
    callback=_duration,
    default="3600s",
    show_default=True,
    help="How long issued access tokens are valid.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log every request on stderr.")
def emulator_command(
    host: str,
    port: int,
    api_token: str | None,
    record_path: Path | None,
    rate: Rate,
    window: float | None,
    fail_rate: float,
    seed: int | None,
    latency: float,
    script: tuple[int, ...],
    outage_after: float | None,
    outage_for: float | None,
    outage_mode: OutageMode,
    reject_ips: frozenset[str],
    endpoint_off: bool,
    foreign_load: Rate | None,
    clients: tuple[RegisteredClient, ...],
    new_client_dir: Path | None,
    disabled_clients: tuple[str, ...],
    require_dpop: bool,
    token_lifetime: float,
    verbose: bool,
) -> None:
    """Run a local emulation of Okta's POST /api/v1/risk/events/ip until SIGTERM or Ctrl-C."""
    _configure_logging()
    if new_client_dir is not None:
        _new_client(new_client_dir)
        return
    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            api_token=api_token,
            record_path=record_path,
            rate=rate,
            window_seconds=window,
            fail_rate=fail_rate,
            seed=seed,
            latency=latency,
            script=script,
            outage_after=outage_after,
            outage_for=outage_for,
            outage_mode=outage_mode,
            reject_ips=reject_ips,
            endpoint_off=endpoint_off,
            foreign_load=foreign_load,
            verbose=verbose,
            clients=clients,
            disabled_clients=frozenset(disabled_clients),
            require_dpop=require_dpop,
            token_lifetime=token_lifetime,
        )
    except ValueError as problem:
        raise click.UsageError(str(problem)) from None
    _serve(config)


def _new_client(directory: Path) -> None:
    # Imported here: key generation needs cryptography, which nothing else here does.
    from okta_risk_output.emulator.oauth import new_client

    try:
        client_id = new_client(directory)
    except OSError as problem:
        raise click.UsageError(f"cannot write the client key pair: {problem}") from None
    log.info(
        "wrote %s and %s; run the emulator with --client %s=%s",
        directory / "private_key.pem",
        directory / "public_jwk.json",
        client_id,
        directory / "public_jwk.json",
    )
    print(client_id, flush=True)


def _serve(config: EmulatorConfig) -> None:
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    try:
        emulator = Emulator(config)
    except ValueError as problem:  # a registered client's key is unusable
        raise click.UsageError(str(problem)) from None
    # Handlers go in before the socket opens, so an early SIGTERM still ends cleanly.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            emulator.start()
        except OSError as problem:
            log.error("cannot start on %s port %d: %s", config.host, config.port, problem)
            raise click.exceptions.Exit(1) from None
        print(emulator.url, flush=True)
        log.info("emulating Okta at %s: %s", emulator.url, _describe(config))
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stopping.wait(0.5):
            pass
        log.info("stopping")
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _describe(config: EmulatorConfig) -> str:
    parts = [f"limit {config.limit} per {config.window:g}s"]
    if config.api_token is not None:
        parts.append("API token required")
    if config.record_path is not None:
        parts.append(f"recording to {config.record_path}")
    if config.script:
        parts.append("script " + ",".join(str(s) for s in config.script))
    if config.fail_rate:
        parts.append(f"fail-rate {config.fail_rate:g}")
    if config.latency:
        parts.append(f"latency {config.latency:g}s")
    if config.has_outage:
        length = "until stopped" if config.outage_for is None else f"for {config.outage_for:g}s"
        start = config.outage_after or 0.0
        parts.append(f"outage ({config.outage_mode}) after {start:g}s {length}")
    if config.reject_ips:
        parts.append("rejecting " + ", ".join(sorted(config.reject_ips)))
    if config.endpoint_off:
        parts.append("endpoint switched off")
    if config.clients:
        parts.append("OAuth clients " + ", ".join(c.client_id for c in config.clients))
    if config.disabled_clients:
        parts.append("disabled " + ", ".join(sorted(config.disabled_clients)))
    if config.require_dpop:
        parts.append("DPoP required")
    if config.clients and config.token_lifetime != 3600:
        parts.append(f"tokens valid {config.token_lifetime:g}s")
    return "; ".join(parts)


def _configure_logging() -> None:
    """Send the emulator's logs to the current stderr, replacing what an earlier run set up."""
    for handler in [h for h in log.handlers if isinstance(h.formatter, _LevelWordFormatter)]:
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LevelWordFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # Our handler already writes the line; a root handler would write it twice.
    log.propagate = False
