"""What the benchmarks share: the tree under test, addresses, child processes measured by
the kernel, the emulator, and spools filled through the Store API.

Every benchmark measures the checkout it lives in: `use_this_tree()` puts the checkout first
on sys.path and on PYTHONPATH (children inherit it), whatever the virtualenv has installed,
so the same bench/ run from two worktrees compares two trees. Commands run through
launch.py, which waits for them with os.wait4, so that their wall time, CPU time and peak
RSS are their own (not the benchmark's, nor the launcher's).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PROGRAM = [PYTHON, "-m", "okta_risk_output"]
"""The CLI as `python -m`; hosts run the console script (HOST_PROGRAM)."""
HOST_PROGRAM = str(Path(PYTHON).parent / "okta-risk-output")
LAUNCHER = Path(__file__).with_name("launch.py")
TOKEN = "bench-token"  # noqa: S105 - the emulator's, not a credential
LEVELS = ("HIGH", "MEDIUM", "LOW")


def use_this_tree() -> None:
    """Import okta_risk_output from this checkout, here and in every child process, and
    run the children as an installed program runs: its bytecode compiled and cached (as pip
    does on install), default buffering."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    root = str(ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    paths = [root, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for variable in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        os.environ.pop(variable, None)
    package = str(ROOT / "okta_risk_output")
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", package], check=True, stdout=subprocess.DEVNULL
    )


def machine() -> str:
    """One line saying where the figures come from: the machine, how busy it was when the
    benchmark started (other processes skew every figure), the tree and its commit."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],  # noqa: S607 - git on PATH
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, load average {load}, Python {sys.version.split()[0]}, "
        f"tree {ROOT} at {commit or 'an unknown commit'}"
    )


# -- addresses ---------------------------------------------------------------------------

_FIRST_OCTETS = (23, 31, 45, 52, 61, 77, 81, 89, 91, 109, 141, 151, 178, 185, 193, 212)
"""Sixteen /8s of global unicast space without special ranges inside them."""
_MASK = (1 << 28) - 1


def address(n: int) -> str:
    """The n-th of 2**28 distinct global IPv4 addresses, in an order that looks random (a
    bijection of n), as a real feed's addresses are to the spool's index."""
    x = (n * 0x9E3779B1) & _MASK
    x ^= x >> 13
    x = (x * 0x85EBCA6B) & _MASK
    x ^= x >> 11
    return f"{_FIRST_OCTETS[x >> 24]}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"


# -- figures -----------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def bare_loads(path: Path) -> float:
    """Seconds of `for l in f: json.loads(l)` over the file: the yardstick of intake."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - started


# -- child processes ---------------------------------------------------------------------


@dataclass
class Finished:
    """A child process as the kernel accounted for it."""

    argv: list[str]
    status: int
    wall: float
    """Seconds from spawn to exit."""
    cpu: float
    """User + system seconds of the child itself."""
    max_rss_mb: float
    """Its peak resident set (ru_maxrss), MiB."""
    stderr: str

    def check(self) -> Finished:
        if self.status != 0:
            raise SystemExit(f"{' '.join(self.argv)} exited {self.status}:\n{self.stderr[-2000:]}")
        return self


class Child:
    """A command started through launch.py (which see: so that its peak RSS is its own, not
    this process's); `finish` waits for it and returns the figures wait4 gave the launcher.
    stdout and stderr go to files (a pipe nobody reads could block it); stdout is dropped."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stdin: Any = subprocess.DEVNULL,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        import tempfile

        self.argv = list(argv)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115 - likewise
        report, into = os.pipe()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [PYTHON, "-I", "-S", str(LAUNCHER), str(into), *self.argv],
            stdin=stdin,
            stdout=self._stdout,
            stderr=self._stderr,
            env=env,
            cwd=cwd,
            pass_fds=(into,),
        )
        os.close(into)
        self._report = os.fdopen(report)
        self.pid = int(self._report.readline())
        """The command's own pid (the launcher's child)."""

    def cpu_so_far(self) -> float:
        """User + system seconds it has used until now (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        os.kill(self.pid, signal.SIGTERM)

    def finish(self, timeout: float = 3600) -> Finished:
        """Wait for the exit; a command still running after `timeout` is killed."""
        timer = threading.Timer(timeout, lambda: os.kill(self.pid, signal.SIGKILL))
        timer.start()
        try:
            self.process.wait()
            figures = json.loads(self._report.read() or "{}")
        finally:
            timer.cancel()
            self._report.close()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace")
        self._stderr.close()
        self._stdout.close()
        if not figures:
            raise SystemExit(f"launch.py failed for {' '.join(self.argv)}:\n{stderr[-2000:]}")
        return Finished(
            argv=self.argv,
            status=figures["status"],
            wall=figures["wall"],
            cpu=figures["cpu"],
            max_rss_mb=figures["max_rss_kib"] / 1024,
            stderr=stderr,
        )


def run(argv: Sequence[str], *, stdin: Any = None, **kw: Any) -> Finished:
    """Run a child to its end. `stdin`: bytes (fed through a pipe), a Path (the child reads
    the file), an open file or pipe, or None (nothing)."""
    if isinstance(stdin, Path):
        with stdin.open("rb") as handle:
            return Child(argv, stdin=handle, **kw).finish()
    if not isinstance(stdin, bytes):
        return Child(argv, stdin=subprocess.DEVNULL if stdin is None else stdin, **kw).finish()
    child = Child(argv, stdin=subprocess.PIPE, **kw)
    feed(child.process.stdin, [stdin])
    return child.finish()


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def feed(pipe: IO[bytes] | None, chunks: Iterable[bytes]) -> threading.Thread:
    """Write `chunks` into a child's stdin on a thread, then close it."""
    assert pipe is not None

    def write() -> None:
        try:
            for chunk in chunks:
                pipe.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            with suppress(BrokenPipeError):
                pipe.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spool_flags(spool: Path) -> list[str]:
    return ["--spool", str(spool), "--dead-letter", str(spool.with_suffix(".dead.jsonl"))]


# -- the emulator ------------------------------------------------------------------------


@contextmanager
def emulator(rate: str = "100000/s", *flags: str) -> Iterator[str]:
    """The project's emulator in its own process on loopback (its CPU is not the child's);
    yields its base URL, the first line it prints."""
    process = subprocess.Popen(
        [*PROGRAM, "emulator", "--port", "0", "--api-token", TOKEN, "--rate-limit", rate, *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(30)


def okta_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a child that delivers to the emulator at `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    env.update({"OKTA_ORG_URL": url, "OKTA_API_TOKEN": TOKEN, **extra})
    return env


# -- spools filled through the Store API -------------------------------------------------


def roomy_policy() -> Any:
    """The default SpoolPolicy with room for any backlog built here (no overflow)."""
    from okta_risk_output.spool.store import SpoolPolicy

    return SpoolPolicy(max_events=100_000_000, max_bytes=1 << 40)


class Backlog:
    """A spool opened through the Store API, filled with distinct flat signals in large
    put_many batches (RiskEvents of 50 subjects, no timestamp, so 1,000 of them pack into
    one request). Addresses continue from `first` on every fill."""

    def __init__(self, path: Path, first: int) -> None:
        from okta_risk_output.spool.sqlite import Spool

        self.path = path
        self.next = first
        self.store = Spool(str(path), policy=roomy_policy())

    def put(self, count: int, batch: int = 20_000) -> float:
        """Put `count` new signals; returns the seconds it took."""
        started = time.perf_counter()
        while count > 0:
            size = min(batch, count)
            events = []
            for start in range(self.next, self.next + size, 50):
                stop = min(start + 50, self.next + size)
                subjects = [
                    {"ip": address(n), "riskLevel": LEVELS[n % 3], "message": "bench backlog"}
                    for n in range(start, stop)
                ]
                events.append(({"subjects": subjects}, "bench", start))
            self.store.put_many(events, now=time.time())
            self.next += size
            count -= size
        return time.perf_counter() - started

    def fill_to(self, count: int) -> float:
        live = int(self.store.status(time.time())["signals"])
        return self.put(count - live) if count > live else 0.0

    def close(self) -> None:
        self.store.close()
