"""`okta-risk-output emulator`: run the local Okta org until SIGTERM or Ctrl-C.

Stdout carries exactly one line, the base URL, so that scripts can start the emulator with
`--port 0` and read where it listens; everything else is a one-line log on stderr.
`--new-client DIR` instead makes an OAuth client key pair, prints the new client id and exits.
The options are the table in cli/emulator_options.py.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from okta_risk_output.cli.command import Command
from okta_risk_output.cli.emulator_options import OPTIONS
from okta_risk_output.cli.options import own_options
from okta_risk_output.emulator.config import EmulatorConfig, OutageMode, RegisteredClient
from okta_risk_output.emulator.server import Emulator
from okta_risk_output.units import Rate

__all__ = ["emulator_command"]

log = logging.getLogger("okta_risk_output.emulator")

_LEVEL_WORDS = {"WARNING": "WARN", "CRITICAL": "ERROR"}


class _LevelWordFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = _LEVEL_WORDS.get(record.levelname, record.levelname)
        # One line per entry, even when a message carries a newline.
        return f"{level} {record.getMessage()}".replace("\n", " ")


@click.command("emulator", cls=Command)
@own_options("emulator", OPTIONS)
def emulator_command(
    host: str,
    port: int,
    api_token: str | None,
    record: Path | None,
    verbose: bool,
    rate_limit: Rate,
    window: float | None,
    foreign_load: Rate | None,
    fail_rate: float,
    seed: int | None,
    latency: float,
    script: tuple[int, ...],
    outage_after: float | None,
    outage_for: float | None,
    outage_mode: OutageMode,
    reject_ip: frozenset[str],
    endpoint_off: bool,
    client: tuple[RegisteredClient, ...],
    new_client: Path | None,
    disable_client: tuple[str, ...],
    require_dpop: bool,
    token_lifetime: float,
) -> int:
    """Run a local emulation of Okta's POST /api/v1/risk/events/ip until SIGTERM or Ctrl-C."""
    _configure_logging()
    if new_client is not None:
        _new_client(new_client)
        return 0
    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            api_token=api_token,
            record_path=record,
            rate=rate_limit,
            window_seconds=window,
            fail_rate=fail_rate,
            seed=seed,
            latency=latency,
            script=script,
            outage_after=outage_after,
            outage_for=outage_for,
            outage_mode=outage_mode,
            reject_ips=reject_ip,
            endpoint_off=endpoint_off,
            foreign_load=foreign_load,
            verbose=verbose,
            clients=client,
            disabled_clients=frozenset(disable_client),
            require_dpop=require_dpop,
            token_lifetime=token_lifetime,
        )
    except ValueError as problem:
        raise click.UsageError(str(problem)) from None
    return _serve(config)


def _new_client(directory: Path) -> None:
    # Imported here: key generation needs cryptography, which nothing else here does.
    from okta_risk_output.emulator.clients import new_client

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


def _serve(config: EmulatorConfig) -> int:
    """Serve until SIGTERM or SIGINT: 0; 1 when the port cannot be had."""
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
            return 1
        print(emulator.url, flush=True)
        log.info("emulating Okta at %s: %s", emulator.url, _describe(config))
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stopping.wait(0.5):
            pass
        log.info("stopping")
        return 0
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
