"""The real syslog-ng, as a private instance, feeding the shipped integrations/syslog-ng/
configuration to `okta-risk-output run` through program(), and on to the emulator.

syslog-ng runs from the extracted Debian package (it conflicts with rsyslog as a package),
with its own configuration, pid, control and persist files, on a loopback port.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
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
    send_syslog,
    seq_line,
    standard_replacements,
    syslog_ng,
)
from tests.support import accepted_total, wait_until

pytestmark = pytest.mark.emulator(latency=0.02)  # for the `emu` fixture


@dataclass
class SyslogNg:
    port: int
    plugin: Plugin
    plugin_log: Path
    spool: Path
    start: Callable[[], Daemon]


@contextmanager
def syslog_ng_instance(tmp_path: Path, emu: Emulator) -> Iterator[tuple[SyslogNg, list[Daemon]]]:
    """Yields the instance's description and its daemons (a test may restart it)."""
    binary = syslog_ng()
    wrapper = plugin(tmp_path / "bin", *FAST)
    port = free_port()
    replacements = standard_replacements(tmp_path, emu, wrapper)
    replacements["/var/log/okta-risk-output.log"] = str(tmp_path / "plugin.log")
    replacements["port(10514)"] = f"port({port})"
    (tmp_path / "okta-risk.conf").write_text(integration("syslog-ng/okta-risk.conf", replacements))
    main = tmp_path / "syslog-ng.conf"
    main.write_text(
        f'@version: 3.38\noptions {{ stats-freq(0); }};\n@include "{tmp_path / "okta-risk.conf"}"\n'
    )
    env = {**clean_env(), **binary.env}
    argv = [
        str(binary.path),
        *binary.args,
        "-F",
        "--no-caps",
        "-e",
        "-f",
        str(main),
        "-p",
        str(tmp_path / "syslog-ng.pid"),
        "-c",
        str(tmp_path / "syslog-ng.ctl"),
        "-R",
        str(tmp_path / "syslog-ng.persist"),
    ]
    daemons: list[Daemon] = []

    def start() -> Daemon:
        daemon = Daemon(argv, env, tmp_path / f"syslog-ng.{len(daemons)}.out")
        daemons.append(daemon)
        wait_until(listening(port), 20, f"syslog-ng to listen on {port}: {daemon.output()}")
        return daemon

    start()
    try:
        yield (
            SyslogNg(port, wrapper, tmp_path / "plugin.log", tmp_path / "spool.db", start),
            daemons,
        )
    finally:
        for daemon in daemons:
            daemon.stop()


def _log(run: SyslogNg) -> str:
    return run.plugin_log.read_text() if run.plugin_log.exists() else ""


def test_every_message_arrives_across_a_kill_of_the_child(tmp_path: Path, emu: Emulator) -> None:
    """program() has no acknowledgement, so the kill comes between bursts: what the child
    had read is in its spool, and syslog-ng starts a new child for what follows.

    Between bursts means once syslog-ng has noticed: messages it writes to the dead
    child's pipe before it has (a kill mid-burst) fail with EPIPE and syslog-ng 3.38 drops
    that write's batch even with a reliable disk-buffer, as docs/hosts.md says.
    """
    with syslog_ng_instance(tmp_path, emu) as (run, daemons):
        send_syslog(run.port, (seq_line(n) for n in range(100)))
        wait_until(all_arrived(emu, range(100)), 30, lambda: f"the first 100 signals\n{_log(run)}")
        child = run.plugin.started()[-1]
        os.kill(child, signal.SIGKILL)
        wait_until(
            lambda: len(run.plugin.started()) >= 2,
            10,
            lambda: f"syslog-ng to restart the program\n{daemons[0].output()}",
        )
        assert is_gone(child)
        send_syslog(run.port, (seq_line(n) for n in range(100, 200)))
        wait_until(all_arrived(emu, range(200)), 60, lambda: f"all 200 signals\n{_log(run)}")


def test_a_restart_of_syslog_ng_loses_nothing_spooled(tmp_path: Path, emu: Emulator) -> None:
    """At its stop syslog-ng sends the program SIGTERM, closes the program's input and exits
    without waiting for it. So the program's summary may come after syslog-ng has gone, and
    the program may see the end of its input before it handles the signal, and then deliver
    at once, as at any end of input (both seen on a loaded machine). Hence the test waits for
    the programs to exit before it reads their log, and the org refuses all requests during
    the stop: only the spool can carry the signals across the restart."""
    with syslog_ng_instance(tmp_path, emu) as (run, daemons):
        # A linger longer than the test: nothing is sent before the stop.
        run.plugin.set_args("--rate-limit", "1000/s", "--linger", "1h")
        daemons[0].stop()
        run.plugin.wait_all_gone()  # so the summary below is the restarted program's
        restarted = run.start()
        send_syslog(run.port, (seq_line(n) for n in range(50)))
        wait_until(lambda: accepted_total(run.spool) >= 50, 30, lambda: f"50 spooled\n{_log(run)}")
        assert not arrived(emu)
        emu.state.script([503] * 100)
        took = restarted.stop()
        assert took < 10, f"syslog-ng took {took:.1f}s to stop"
        run.plugin.wait_all_gone()
        emu.state.script([])
        assert "left_in_spool=50" in _log(run), _log(run)
        run.plugin.set_args(*FAST)
        run.start()
        wait_until(all_arrived(emu, range(50)), 30, lambda: f"the 50 spooled signals\n{_log(run)}")
    assert set(arrived(emu).values()) == {1}
