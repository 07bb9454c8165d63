"""How a run ends when it cannot go on: delivery stopped under the block policy, a full disk
under the dead-letter file, a shutdown on a fast input. Real processes, a real spool file
and the emulator; the program is run from the tree this file is in.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.emulator import Emulator
from tests.support import TOKEN, emulator, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator(rate="1000/s")  # for the `emu` fixture


def signals(count: int) -> bytes:
    """Signals for distinct addresses (repeats of one address would coalesce)."""
    return b"".join(
        b'{"ip": "203.0.113.%d", "riskLevel": "HIGH", "message": "EDR C2 beacon"}\n' % (n + 10)
        for n in range(count)
    )


def command(tmp_path: Path, *args: str, dead_letter: str | None = None) -> list[str]:
    files = ["--spool", str(tmp_path / "spool.db")]
    files += ["--dead-letter", dead_letter or str(tmp_path / "dl.jsonl")]
    return [sys.executable, "-m", "okta_risk_output", *args, *files]


def environment(tmp_path: Path, url: str, token: str = TOKEN) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    return {
        **clean,
        "OKTA_ORG_URL": url,
        "OKTA_API_TOKEN": token,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONPATH": str(ROOT),  # this tree's code, whatever is installed
    }


def run(
    tmp_path: Path, url: str, *args: str, stdin: bytes, token: str = TOKEN, **kw: Any
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command(tmp_path, *args, **kw),
        input=stdin,
        capture_output=True,
        env=environment(tmp_path, url, token),
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


# -- 12: --overflow block when delivery has stopped -----------------------------------------


def test_block_overflow_stops_waiting_once_delivery_has_stopped(
    tmp_path: Path, emu: Emulator
) -> None:
    """Okta answers 401: no room can come, so intake stops taking lines and run exits 3."""
    done = run(
        tmp_path,
        emu.url,
        "run",
        "--overflow",
        "block",
        "--spool-max-events",
        "5",
        "--linger",
        "0s",
        stdin=signals(20),
        token="a-wrong-token",
    )
    assert done.returncode == 3, done.stderr
    assert "ERROR delivery stopped: HTTP 401" in done.stderr
    summary = [line for line in done.stderr.splitlines() if "summary lines=" in line]
    assert summary and " spooled=5 " in summary[0] and "left_in_spool=5" in summary[0]
    not_taken = re.search(r"(\d+) lines read from <stdin> were not taken", done.stderr)
    assert not_taken, done.stderr
    # Every line read is spooled or reported as not taken; none is silently lost.
    assert 5 + int(not_taken.group(1)) == 20


# -- 13: a full disk under the dead-letter file ------------------------------------------


@pytest.mark.parametrize("mode", ["run", "enqueue"])
def test_a_full_disk_under_the_dead_letter_file_exits_6_with_the_summary(
    tmp_path: Path, emu: Emulator, mode: str
) -> None:
    """/dev/full fails every write with ENOSPC, as a full disk does."""
    done = run(tmp_path, emu.url, mode, stdin=b"not json\n" + signals(1), dead_letter="/dev/full")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 6, done.stderr
    assert re.search(
        r"^ERROR cannot write the dead-letter file /dev/full: No space left on device$",
        done.stderr,
        re.MULTILINE,
    ), done.stderr
    assert "summary lines=" in done.stderr


def test_a_full_disk_under_dead_letters_from_okta_exits_6(tmp_path: Path) -> None:
    """The delivery side's dead-letter write (a 400 isolated by bisection) fails the same way."""
    with emulator(rate="1000/s", reject_ips=frozenset({"203.0.113.10"})) as rejecting:
        done = run(
            tmp_path,
            rejecting.url,
            "run",
            "--linger",
            "0s",
            stdin=signals(2),
            dead_letter="/dev/full",
        )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 6, done.stderr
    assert "ERROR cannot write the dead-letter file /dev/full" in done.stderr
    assert "summary lines=2" in done.stderr


# -- 17: no unbounded read-ahead after a stop ----------------------------------------------

_PRODUCER = """
import sys
block = b'{"ip":"8.8.8.8","riskLevel":"HIGH"}\\n' * 10000
while True:
    sys.stdout.buffer.write(block)
"""
"""Lines as fast as a pipe takes them, like `yes`."""
_GROWTH_BOUND_KIB = 8 * 1024
"""After the signal nothing more is read: the peak stays within a few hundred KiB of the
peak at the signal. Reading on, the process grew by 15 to 30 MiB a second."""


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the highest RSS of the process's own memory (wait4's ru_maxrss would also
    count the forking test process's memory); 0 once it has exited."""
    with open(f"/proc/{pid}/status") as status:
        return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)


def test_sigterm_on_a_fast_input_stops_reading_and_memory_stays_bounded(tmp_path: Path) -> None:
    """A producer feeds lines as fast as a pipe goes; a request stalls, so after SIGTERM the
    process lives on for --shutdown-timeout, and its peak RSS is read until it exits."""
    with emulator(latency=30.0) as stalled:
        producer = subprocess.Popen(
            [sys.executable, "-c", _PRODUCER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        try:
            process = subprocess.Popen(
                command(tmp_path, "run", "--linger", "0s", "--shutdown-timeout", "3s"),
                stdin=producer.stdout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=environment(tmp_path, stalled.url),
                cwd=ROOT,
            )
            assert producer.stdout is not None
            producer.stdout.close()  # the child holds the pipe now
            wait_until(lambda: stalled.state.stats()["requests"] > 0)
            at_signal = peak = peak_rss_kib(process.pid)
            process.send_signal(signal.SIGTERM)
            for _ in range(600):  # short waits for the exit, reading the peak between them
                try:
                    _, err = process.communicate(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    peak = max(peak, peak_rss_kib(process.pid))
            else:
                raise AssertionError("the process did not exit within 30 s of SIGTERM")
        finally:
            process.kill()
            producer.kill()
            producer.wait()
    stderr = err.decode()
    growth = peak - at_signal
    assert growth < _GROWTH_BOUND_KIB, f"grew {growth // 1024} MiB after SIGTERM"
    assert process.returncode == 0, stderr
    assert "abandoned" in stderr and "summary lines=" in stderr


def test_sigterm_while_reading_a_quiet_pipe_exits_cleanly(tmp_path: Path, emu: Emulator) -> None:
    """The reader thread is blocked on a pipe that stays open: the interpreter must not
    abort at exit over the lock that read holds ("could not acquire lock ... at
    interpreter shutdown")."""
    process = subprocess.Popen(
        command(tmp_path, "run", "--linger", "0s"),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment(tmp_path, emu.url),
        cwd=ROOT,
    )
    assert process.stdin is not None and process.stderr is not None
    try:
        process.stdin.write(signals(1))
        process.stdin.flush()
        wait_until(lambda: emu.state.stats()["subjects"] == 1)  # read, spooled and delivered
        process.send_signal(signal.SIGTERM)
        stderr = process.stderr.read().decode()  # to EOF, with stdin still open
        process.wait(30)
    finally:
        process.kill()
        process.stdin.close()
    assert "Fatal Python error" not in stderr, stderr
    assert process.returncode == 0, stderr
    assert "summary lines=1 " in stderr
