"""The plain `run` mode under Logstash's pipe output, driven as logstash-output-pipe drives it:
the shipped integrations/logstash/ command started through the shell (IO.popen), one line
per event, the pipe closed after `ttl` idle seconds, a new program for the next event.
(Logstash itself is not in the reachable registries.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from okta_risk_output.emulator import Emulator
from tests.hosts.hostkit import (
    FAST,
    Plugin,
    all_arrived,
    arrived,
    clean_env,
    integration,
    is_gone,
    plugin,
    seq_line,
    standard_replacements,
)
from tests.support import accepted_total, wait_until


class Pipe:
    """logstash-output-pipe's PipeWrapper: IO.popen(command, "a+"), puts + flush per event."""

    def __init__(self, command: str) -> None:
        self.process = subprocess.Popen(  # noqa: S602 - the shell, as IO.popen uses it
            command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=clean_env()
        )

    def puts(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def close(self, timeout: float = 30) -> tuple[int, float]:
        """The ttl's close: EOF, then Ruby's IO#close waits for the program to exit."""
        assert self.process.stdin is not None
        started = time.monotonic()
        self.process.stdin.close()
        self.process.wait(timeout)
        return self.process.returncode, time.monotonic() - started


def _command(tmp_path: Path, emu: Emulator) -> tuple[str, Plugin]:
    wrapper = plugin(tmp_path / "bin", *FAST)
    replacements = standard_replacements(tmp_path, emu, wrapper)
    replacements["/var/log/okta-risk-output.log"] = str(tmp_path / "plugin.log")
    conf = integration("logstash/okta-risk.conf", replacements)
    found = re.search(r'command => "(.+)"', conf)
    assert found, "no command in okta-risk.conf"
    return found.group(1), wrapper


def test_the_closed_pipe_flushes_at_once(tmp_path: Path, emu: Emulator) -> None:
    command, wrapper = _command(tmp_path, emu)
    # A linger far longer than the test: only the end of input can send these now.
    wrapper.set_args("--rate-limit", "1000/s", "--linger", "1h")
    pipe = Pipe(command)
    for n in range(30):
        pipe.puts(seq_line(n))
    status, took = pipe.close()
    assert status == 0, (tmp_path / "plugin.log").read_text()
    assert set(arrived(emu)) == set(range(30))
    assert took < 5, f"took {took:.1f}s"


def test_a_program_killed_midway_leaves_its_lines_to_the_next(
    tmp_path: Path, emu: Emulator
) -> None:
    command, wrapper = _command(tmp_path, emu)
    wrapper.set_args("--rate-limit", "1000/s", "--linger", "1h")
    first = Pipe(command)
    for n in range(20):
        first.puts(seq_line(n))
    wait_until(lambda: accepted_total(tmp_path / "spool.db") >= 20, 30, "20 spooled")
    child = wrapper.started()[-1]
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: is_gone(child), 10, "the program to die")
    first.process.wait(10)
    assert not arrived(emu)
    # Logstash gets EPIPE on its next write, reopens the pipe and writes that event again.
    wrapper.set_args(*FAST)
    second = Pipe(command)
    for n in range(20, 25):
        second.puts(seq_line(n))
    status, _ = second.close()
    assert status == 0
    wait_until(all_arrived(emu, range(25)), 30, "all 25 signals")
