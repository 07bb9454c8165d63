"""`okta-risk-output omprog` speaking rsyslog's confirmMessages protocol, driven here exactly as
omprog drives it (stdin lines, stdout answers, EOF, SIGTERM); and its keep-alive dots."""

from __future__ import annotations

import io
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, cast

from okta_risk_output.emulator import Emulator
from okta_risk_output.hosts.omprog import OmprogSession, Replies
from okta_risk_output.intake.loop import LineOutcome
from okta_risk_output.intake.reader import Line
from tests.hosts.hostkit import FAST, PROGRAM, arrived, clean_env, seq_line
from tests.support import TOKEN, accepted_total, emulator, wait_until


class Omprog:
    """The program as omprog runs it: one answer line read per line written."""

    def __init__(self, tmp_path: Path, org_url: str, *args: str) -> None:
        self.spool = tmp_path / "spool.db"
        self.dead_letter = tmp_path / "dl.jsonl"
        files = ["--spool", str(self.spool), "--dead-letter", str(self.dead_letter)]
        self.process = subprocess.Popen(
            [str(PROGRAM), "omprog", *files, *FAST, *args],
            env=clean_env(OKTA_ORG_URL=org_url, OKTA_API_TOKEN=TOKEN),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def answer(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().decode().rstrip("\n")

    def send(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()
        return self.answer()

    def close(self, timeout: float = 30) -> tuple[int, str, float]:
        """EOF, as rsyslog gives at shutdown; the exit status, stderr, seconds to exit."""
        assert self.process.stdin is not None and self.process.stderr is not None
        started = time.monotonic()
        self.process.stdin.close()
        self.process.wait(timeout)
        return (
            self.process.returncode,
            self.process.stderr.read().decode(),
            time.monotonic() - started,
        )


def test_ok_once_ready_then_per_message_only_once_durable(tmp_path: Path, emu: Emulator) -> None:
    omprog = Omprog(tmp_path, emu.url)
    assert omprog.answer() == "OK"
    for n in range(3):
        assert omprog.send(seq_line(n)) == "OK"
        # The answer came after the commit: the spool already holds the line.
        assert accepted_total(omprog.spool) == n + 1
    assert omprog.send("not json") == "OK"
    assert "not_json" in omprog.dead_letter.read_text()
    assert omprog.send("") == "OK"
    status, stderr, took = omprog.close()
    assert status == 0, stderr
    assert took < 5
    assert set(arrived(emu)) == {0, 1, 2}


def test_a_message_the_spool_refuses_gets_an_error_line(tmp_path: Path) -> None:
    # No org answers (a closed port): nothing leaves the spool, so it stays full.
    omprog = Omprog(
        tmp_path, "http://127.0.0.1:9", "--spool-max-events", "1", "--overflow", "reject-new"
    )
    assert omprog.answer() == "OK"
    assert omprog.send(seq_line(0)) == "OK"
    answer = omprog.send(seq_line(1))
    assert answer.startswith("ERROR spool full"), answer
    assert "\n" not in answer
    status, stderr, _ = omprog.close()
    assert status == 0, stderr


def test_transactions_answer_defer_commit_and_store_at_the_commit(
    tmp_path: Path, emu: Emulator
) -> None:
    omprog = Omprog(tmp_path, emu.url, "--transactions")
    assert omprog.answer() == "OK"
    assert omprog.send("BEGIN TRANSACTION") == "OK"
    for n in range(5):
        assert omprog.send(seq_line(n)) == "DEFER_COMMIT"
    assert accepted_total(omprog.spool) == 0  # held until the commit
    assert omprog.send("COMMIT TRANSACTION") == "OK"
    assert accepted_total(omprog.spool) == 5
    # A batch cut off by EOF was never confirmed, so rsyslog still has it: not stored.
    assert omprog.send("BEGIN TRANSACTION") == "OK"
    assert omprog.send(seq_line(99)) == "DEFER_COMMIT"
    status, stderr, _ = omprog.close()
    assert status == 0, stderr
    assert accepted_total(omprog.spool) == 5
    assert set(arrived(emu)) == set(range(5))


def _stalled(tmp_path: Path) -> tuple[Emulator, Omprog]:
    stalled = emulator(latency=30.0).__enter__()
    omprog = Omprog(tmp_path, stalled.url, "--linger", "0s")
    assert omprog.answer() == "OK"
    for n in range(5):
        assert omprog.send(seq_line(n)) == "OK"
    wait_until(lambda: stalled.state.stats()["requests"] > 0, 30, "a request in flight")
    return stalled, omprog


def test_eof_with_a_request_in_flight_exits_within_close_timeout(tmp_path: Path) -> None:
    stalled, omprog = _stalled(tmp_path)
    try:
        status, stderr, took = omprog.close()
    finally:
        stalled.__exit__(None, None, None)
    assert status == 0, stderr
    # --eof-timeout 1.5s, then --shutdown-timeout 2s for the request: below closeTimeout (5 s).
    assert took < 5, f"took {took:.1f}s"
    assert "abandoned" in stderr
    assert accepted_total(omprog.spool) == 5


def test_sigterm_with_a_request_in_flight_exits_within_close_timeout(tmp_path: Path) -> None:
    stalled, omprog = _stalled(tmp_path)
    try:
        started = time.monotonic()
        omprog.process.send_signal(signal.SIGTERM)
        omprog.process.wait(30)
        took = time.monotonic() - started
    finally:
        stalled.__exit__(None, None, None)
    assert omprog.process.returncode == 0
    assert took < 5, f"took {took:.1f}s"


# -- keep-alive dots, in-process ------------------------------------------------------------


class _Out(io.BytesIO):
    """stdout as the session sees it, readable by the test while the session writes."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, data: Any) -> int:
        with self.lock:
            return super().write(data)

    def text(self) -> str:
        with self.lock:
            return self.getvalue().decode()


class _SlowIntake:
    """Takes every line, but only once released: like a spool full under the block policy."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def accept_many(self, lines: list[Line]) -> list[LineOutcome]:
        assert self.release.wait(30)
        return [LineOutcome.SPOOLED for _ in lines]


def _serve(keepalive: float, intake: _SlowIntake, lines: bytes) -> tuple[_Out, threading.Thread]:
    out = _Out()
    replies = Replies(cast(BinaryIO, out), keepalive)
    session = OmprogSession(replies, max_line_bytes=1 << 20, stop=threading.Event())
    worker = threading.Thread(target=session.serve, args=(io.BytesIO(lines), intake))
    worker.start()
    return out, worker


def test_keepalive_dots_while_an_answer_waits() -> None:
    intake = _SlowIntake()
    out, worker = _serve(0.05, intake, seq_line(0).encode() + b"\n")
    wait_until(lambda: out.text().count(".") >= 3, 10, lambda: f"dots, got {out.text()!r}")
    intake.release.set()
    worker.join(10)
    text = out.text()
    assert text.startswith("OK\n...") and text.endswith("OK\n"), text
    assert text.strip(".\n").replace(".", "") == "OK\nOK", text


def test_a_quick_answer_has_no_dots() -> None:
    intake = _SlowIntake()
    intake.release.set()
    out, worker = _serve(5.0, intake, (seq_line(0) + "\n" + seq_line(1) + "\n").encode())
    worker.join(10)
    assert out.text() == "OK\nOK\nOK\n"
