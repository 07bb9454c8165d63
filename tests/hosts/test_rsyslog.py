"""The real rsyslogd, as a private instance, feeding the shipped integrations/rsyslog/ drop-in
to the plugin through omprog with confirmMessages, and on to the emulator.

The instance has its own configuration (imtcp on a loopback port, no imuxsock or imklog),
work directory and pid file; the machine's logging is never touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from okta_risk_output.emulator import Emulator
from tests.hosts.hostkit import (
    FAST,
    Daemon,
    Plugin,
    all_arrived,
    arrived,
    clean_env,
    free_port,
    integration,
    is_gone,
    listening,
    plugin,
    rsyslogd,
    send_syslog,
    seq_line,
    standard_replacements,
)
from tests.support import emulator, wait_until

pytestmark = pytest.mark.emulator(latency=0.02)  # for the `emu` fixture


@dataclass
class Rsyslog:
    daemon: Daemon
    port: int
    plugin: Plugin
    plugin_log: Path
    dead_letter: Path


@contextmanager
def rsyslog(
    tmp_path: Path, emu: Emulator, *extra: str, transactions: bool = False
) -> Iterator[Rsyslog]:
    binary = rsyslogd()
    wrapper = plugin(tmp_path / "bin", *FAST, "--keepalive", "1s", *extra)
    replacements = standard_replacements(tmp_path, emu, wrapper)
    replacements["/var/log/okta-risk-output.log"] = str(tmp_path / "plugin.log")
    if transactions:
        replacements['template="okta_risk_json"'] = 'template="okta_risk_json" useTransactions="on"'
    (tmp_path / "okta-risk.conf").write_text(integration("rsyslog/okta-risk.conf", replacements))
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    main = tmp_path / "rsyslog.conf"
    main.write_text(
        f'global(workDirectory="{work}")\n'
        'module(load="imtcp")\n'
        f'input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="okta_risk")\n'
        f'include(file="{tmp_path / "okta-risk.conf"}")\n'
    )
    env = {**clean_env(), **binary.env}
    check = subprocess.run(
        [str(binary.path), *binary.args, "-N1", "-f", str(main)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, f"the shipped drop-in does not validate:\n{check.stderr}"
    argv = [str(binary.path), *binary.args, "-n", "-f", str(main), "-i", str(tmp_path / "pid")]
    daemon = Daemon(argv, env, tmp_path / "rsyslogd.out")
    try:
        wait_until(listening(port), 20, f"rsyslogd to listen on {port}: {daemon.output()}")
        yield Rsyslog(
            daemon, port, wrapper, tmp_path / "plugin.log", tmp_path / "dead-letter.jsonl"
        )
    finally:
        daemon.stop()


def _log(run: Rsyslog) -> str:
    return run.plugin_log.read_text() if run.plugin_log.exists() else ""


def test_every_message_arrives_across_a_kill_of_the_child(tmp_path: Path, emu: Emulator) -> None:
    total = 300
    lines = [seq_line(n) for n in range(total)]
    lines.insert(150, "this line is not JSON")
    with rsyslog(tmp_path, emu) as run:
        sender = threading.Thread(
            target=send_syslog, args=(run.port, lines), kwargs={"pause": 0.003}
        )
        sender.start()
        # Kill the child while messages still flow: those it had not confirmed are resent.
        wait_until(lambda: len(arrived(emu)) >= 40, 30, "the first deliveries")
        first = run.plugin.started()[-1]
        os.kill(first, signal.SIGKILL)
        sender.join(30)
        wait_until(all_arrived(emu, range(total)), 60, lambda: f"all {total} signals\n{_log(run)}")
        children = run.plugin.started()
        assert len(children) >= 2, "rsyslog did not restart the killed child"
        took = run.daemon.stop()
    # rsyslog closed the child's input at its shutdown; the child was gone before rsyslog.
    assert all(is_gone(pid) for pid in children)
    assert took < 10, f"rsyslogd took {took:.1f}s to stop"
    dead = [json.loads(x) for x in run.dead_letter.read_text().splitlines()]
    # The bad line, dead-lettered but not yet confirmed when the child was killed, comes
    # again and is dead-lettered again: at-least-once holds for the dead-letter file too.
    # One kill, so at most twice; and nothing else.
    assert {(d["kind"], d["original"].strip()) for d in dead} == {
        ("not_json", "this line is not JSON")
    }
    assert 1 <= len(dead) <= 2, dead
    log = _log(run)
    assert "INFO summary" in log and all(
        line.split(" ", 1)[0] in ("INFO", "WARN", "ERROR") for line in log.splitlines() if line
    ), log


def test_transactions_confirm_whole_batches(tmp_path: Path, emu: Emulator) -> None:
    total = 200
    with rsyslog(tmp_path, emu, "--transactions", transactions=True) as run:
        send_syslog(run.port, (seq_line(n) for n in range(total)))
        wait_until(all_arrived(emu, range(total)), 60, lambda: f"all {total} signals\n{_log(run)}")
        assert len(run.plugin.started()) == 1
    # Nothing was killed, so nothing was sent twice.
    assert set(arrived(emu).values()) == {1}


def test_a_full_spool_is_refused_then_retried_by_rsyslog(tmp_path: Path) -> None:
    """With reject-new and a spool of 5, messages beyond it get an error answer; rsyslog
    keeps them in its queue and resends until delivery has made room."""
    with emulator(latency=0.02) as emu:
        # Okta is down at first: nothing leaves the spool, so it fills.
        emu.state.script([503] * 3)
        args = ("--spool-max-events", "5", "--overflow", "reject-new", "--max-backoff", "1s")
        with rsyslog(tmp_path, emu, *args) as run:
            send_syslog(run.port, (seq_line(n) for n in range(30)))
            wait_until(all_arrived(emu, range(30)), 90, lambda: f"all 30 signals\n{_log(run)}")
    assert "refused by the reject-new policy" in _log(run)
