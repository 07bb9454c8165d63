"""Helpers for tests/hosts: numbered signals and the emulator as oracle, the real hosts found
(or installed by scripts/install-hosts.sh, or the test skipped with the reason), the
shipped configurations with test paths substituted, and the plugin as a host starts it.

What every test shares (the emulator factory and its TOKEN, wait_until, accepted_total) is
in tests/support.py; the `emu` fixture in tests/conftest.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.emulator import Emulator
from tests.support import TOKEN, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).parent / "okta-risk-output"
"""The installed console script, as hosts run it (a path, not `python -m`)."""
HOSTS_DIR = Path(os.environ.get("OKTA_RISK_HOSTS_DIR") or ROOT / ".hosts")
FAST = ["--rate-limit", "1000/s", "--linger", "50ms"]
"""Test pacing: the emulator allows it, and a test need not wait for Okta's 30/min."""

_BASE = int(ipaddress.ip_address("2001:db8::"))


# -- numbered signals and the oracle --------------------------------------------------------


def seq_ip(n: int) -> str:
    """A distinct documentation address per number (one address would coalesce)."""
    return str(ipaddress.ip_address(_BASE + n + 1))


def seq_signal(n: int, level: str = "HIGH") -> dict[str, Any]:
    return {"ip": seq_ip(n), "riskLevel": level, "message": f"seq {n}"}


def seq_line(n: int, level: str = "HIGH") -> str:
    return json.dumps(seq_signal(n, level))


def arrived(emu: Emulator) -> Counter[int]:
    """How often each numbered signal reached the emulator (more than once is allowed)."""
    seen: Counter[int] = Counter()
    for request in emu.state.requests():
        for event in request["events"]:
            for subject in event["subjects"]:
                seen[int(ipaddress.ip_address(subject["ip"])) - _BASE - 1] += 1
    return seen


def subjects(emu: Emulator) -> list[dict[str, Any]]:
    return [s for r in emu.state.requests() for e in r["events"] for s in e["subjects"]]


def all_arrived(emu: Emulator, numbers: Iterable[int]) -> Callable[[], bool]:
    wanted = set(numbers)
    return lambda: wanted <= set(arrived(emu))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    env.update(extra)
    return env


# -- the plugin as a host starts it ---------------------------------------------------------


@dataclass
class Plugin:
    """A wrapper the host starts in place of okta-risk-output: it notes each start's pid
    and adds test arguments (read at each start, so a test can change them)."""

    path: Path
    pids: Path
    args: Path

    def set_args(self, *args: str) -> None:
        self.args.write_text(" ".join(shlex.quote(a) for a in args))

    def started(self) -> list[int]:
        return [int(p) for p in self.pids.read_text().split()] if self.pids.exists() else []

    def wait_all_gone(self, timeout: float = 30.0) -> None:
        """Until every program started so far has exited, and so has written all it logs. A
        host may exit before its program: syslog-ng only sends SIGTERM at its stop."""
        wait_until(
            lambda: all(is_gone(pid) for pid in self.started()),
            timeout,
            lambda: f"the programs to exit: {[p for p in self.started() if not is_gone(p)]}",
        )


def plugin(directory: Path, *args: str) -> Plugin:
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = Plugin(directory / "okta-risk-output", directory / "pids", directory / "args")
    wrapper.set_args(*args)
    wrapper.path.write_text(
        "#!/bin/sh\n"
        f"echo $$ >> {shlex.quote(str(wrapper.pids))}\n"
        f'exec {shlex.quote(str(PROGRAM))} "$@" $(cat {shlex.quote(str(wrapper.args))})\n'
    )
    wrapper.path.chmod(0o755)
    return wrapper


def integration(relative: str, replacements: dict[str, str]) -> str:
    """A shipped configuration, with its example paths and URL replaced by the test's."""
    text = (ROOT / "integrations" / relative).read_text()
    for old, new in replacements.items():
        assert old in text, f"integrations/{relative} no longer mentions {old!r}"
        text = text.replace(old, new)
    return text


def standard_replacements(tmp: Path, emu: Emulator, wrapper: Plugin) -> dict[str, str]:
    token = tmp / "api-token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return {
        "/usr/local/bin/okta-risk-output": str(wrapper.path),
        "https://example.okta.com": emu.url,
        "/etc/okta-risk-output/api-token": str(token),
        "/var/lib/okta-risk-output": str(tmp),
    }


def is_gone(pid: int) -> bool:
    """The process has exited (a zombie awaiting its parent's wait counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


# -- the real hosts -------------------------------------------------------------------------


@dataclass
class Binary:
    path: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


_installed: list[str] = []


def _install_once() -> str:
    """Run scripts/install-hosts.sh once per session; what it said on stderr."""
    if not _installed:
        try:
            done = subprocess.run(
                [str(ROOT / "scripts" / "install-hosts.sh")],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            _installed.append(done.stderr.strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            _installed.append(f"scripts/install-hosts.sh failed: {exc}")
    return _installed[0]


def _arch() -> str:
    return f"{platform.machine()}-linux-gnu"


def _extracted_env(root: Path) -> dict[str, str]:
    arch = _arch()
    paths = [root / "usr/lib" / arch, root / "lib" / arch, root / "usr/lib/syslog-ng"]
    return {"LD_LIBRARY_PATH": os.pathsep.join(str(p) for p in paths)}


def _find_rsyslogd() -> Binary | None:
    system = shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None
    )
    if system:
        return Binary(Path(system))
    extracted = HOSTS_DIR / "rsyslog"
    if (extracted / "usr/sbin/rsyslogd").exists():
        modules = extracted / "usr/lib" / _arch() / "rsyslog"
        return Binary(
            extracted / "usr/sbin/rsyslogd", ["-M", str(modules)], _extracted_env(extracted)
        )
    return None


def _find_syslog_ng() -> Binary | None:
    system = shutil.which("syslog-ng")
    if system:
        return Binary(Path(system))
    extracted = HOSTS_DIR / "syslog-ng"
    binary = extracted / "usr/sbin/syslog-ng"
    if binary.exists():
        modules = sorted((extracted / "usr/lib/syslog-ng").glob("3.*"))
        args = [f"--module-path={modules[-1]}"] if modules else []
        return Binary(binary, args, _extracted_env(extracted))
    return None


def rsyslogd() -> Binary:
    found = _find_rsyslogd()
    if found is None:
        said = _install_once()
        found = _find_rsyslogd()
        if found is None:
            pytest.skip(f"rsyslog could not be installed here: {said or 'no reason given'}")
    return found


def syslog_ng() -> Binary:
    found = _find_syslog_ng()
    if found is None:
        said = _install_once()
        found = _find_syslog_ng()
        if found is None:
            pytest.skip(f"syslog-ng could not be had here: {said or 'no reason given'}")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def send_syslog(port: int, lines: Iterable[str], *, pause: float = 0.0) -> None:
    """RFC 3164 messages over TCP, one per line, the JSON as the message text.

    `pause` spreads them out, so that something happens while they flow (the moment of
    a kill is test input, not a wait for an effect).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        for line in lines:
            connection.sendall(f"<14>Nov 27 10:00:00 detector ids: {line}\n".encode())
            if pause:
                time.sleep(pause)


class Daemon:
    """A host daemon run in the foreground as a private instance, stopped at the end."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.name = Path(argv[0]).name
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT
        )

    def stop(self, timeout: float = 20.0) -> float:
        """SIGTERM, then wait; how long it took. Killed if it overstays (and then failed)."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(f"{self.name} did not stop within {timeout}s") from None
        self._out.close()
        return time.monotonic() - started

    def output(self) -> str:
        return self.log.read_text(errors="replace")
