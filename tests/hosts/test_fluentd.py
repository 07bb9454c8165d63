"""`okta-risk-output fluentd` run exactly as Fluentd's out_exec runs it: the shipped
integrations/fluentd/fluent.conf `command`, the chunk file's path appended, the exit status
deciding whether Fluentd commits the chunk. (Fluentd itself is not in the reachable
registries; out_exec's contract is lib/fluent/plugin/out_exec.rb.)"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
from pathlib import Path

from okta_risk_output.emulator import Emulator
from okta_risk_output.errors import ExitStatus
from okta_risk_output.hosts.fluentd import (
    ChunkFormat,
    ChunkMemory,
    ChunkResult,
    chunk_lines,
    fluentd_exit_code,
)
from tests.hosts.hostkit import (
    FAST,
    Plugin,
    all_arrived,
    arrived,
    clean_env,
    integration,
    plugin,
    seq_line,
    seq_signal,
    standard_replacements,
)
from tests.support import accepted_total, emulator, wait_until


class OutExec:
    """out_exec's side: `"#{@command} #{chunk.path}"`, spawned without a shell (the command
    has no shell metacharacters), stderr connected to Fluentd's."""

    def __init__(self, tmp_path: Path, emu: Emulator) -> None:
        self.plugin: Plugin = plugin(tmp_path / "bin", *FAST)
        conf = integration("fluentd/fluent.conf", standard_replacements(tmp_path, emu, self.plugin))
        found = re.search(r"^\s*command (.+)$", conf, re.MULTILINE)
        assert found, "no command in fluent.conf"
        self.command = found.group(1)
        self.spool = tmp_path / "spool.db"
        self.dead_letter = tmp_path / "dead-letter.jsonl"
        self.chunks = tmp_path / "buffer" / "okta-risk"
        self.chunks.mkdir(parents=True)

    def chunk(self, name: str, content: bytes) -> Path:
        path = self.chunks / f"buffer.q{name}.log"
        path.write_bytes(content)
        return path

    def flush(self, chunk: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*shlex.split(self.command), *extra, str(chunk)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def json_chunk(numbers: range) -> bytes:
    """As Fluentd's json formatter writes a chunk: one object per line."""
    return "".join(seq_line(n) + "\n" for n in numbers).encode()


def test_a_chunk_is_spooled_delivered_and_left_untouched(tmp_path: Path, emu: Emulator) -> None:
    fluentd = OutExec(tmp_path, emu)
    bad = b'{"ip": "2001:db8::9999", "riskLevel": "HIGH", "host": "web1"}\nnot json\n'
    chunk = fluentd.chunk("5f2c0a1b2c3d4e5f", json_chunk(range(50)) + bad)
    before = (chunk.stat().st_mtime_ns, hashlib.sha256(chunk.read_bytes()).hexdigest())
    done = fluentd.flush(chunk)
    assert done.returncode == 0, done.stderr
    assert set(arrived(emu)) == set(range(50))
    dead = [json.loads(x) for x in fluentd.dead_letter.read_text().splitlines()]
    assert [(d["source"], d["line"], d["kind"]) for d in dead] == [
        (chunk.name, 51, "invalid"),
        (chunk.name, 52, "not_json"),
    ]
    assert (chunk.stat().st_mtime_ns, hashlib.sha256(chunk.read_bytes()).hexdigest()) == before
    assert all(
        line.split(" ", 1)[0] in ("INFO", "WARN", "ERROR") for line in done.stderr.splitlines()
    )


def test_the_same_chunk_twice_is_spooled_once(tmp_path: Path, emu: Emulator) -> None:
    fluentd = OutExec(tmp_path, emu)
    chunk = fluentd.chunk("5f2c0a1b2c3d4e60", json_chunk(range(30)))
    assert fluentd.flush(chunk).returncode == 0
    again = fluentd.flush(chunk)
    assert again.returncode == 0, again.stderr
    assert "spooled by an earlier run" in again.stderr
    assert accepted_total(fluentd.spool) == 30
    assert set(arrived(emu).values()) == {1}
    # The digest is remembered beside the spool, not in it.
    assert (tmp_path / "spool.db.chunks.db").exists()


def test_tsv_chunks_with_the_configured_keys(tmp_path: Path, emu: Emulator) -> None:
    fluentd = OutExec(tmp_path, emu)
    rows = [f"{s['ip']}\t{s['riskLevel']}\t{s['message']}" for s in map(seq_signal, range(10))]
    rows.append(f"{seq_signal(10)['ip']}\tLOW\t")  # no message: Fluentd writes an empty column
    rows.append("2001:db8::ffff\tHIGH\ta message\twith a tab")
    chunk = fluentd.chunk("5f2c0a1b2c3d4e61", ("\n".join(rows) + "\n").encode())
    done = fluentd.flush(chunk, "--format", "tsv", "--keys", "ip,riskLevel,message")
    assert done.returncode == 0, done.stderr
    assert set(arrived(emu)) == set(range(11))
    (dead,) = [json.loads(x) for x in fluentd.dead_letter.read_text().splitlines()]
    assert dead["original"] == rows[-1]


def test_a_chunk_the_spool_cannot_hold_is_retried_and_only_its_rest_is_taken(
    tmp_path: Path, emu: Emulator
) -> None:
    fluentd = OutExec(tmp_path, emu)
    chunk = fluentd.chunk("5f2c0a1b2c3d4e62", json_chunk(range(15)))
    fluentd.plugin.set_args(*FAST, "--spool-max-events", "10", "--overflow", "reject-new")
    full = fluentd.flush(chunk)
    assert full.returncode == ExitStatus.LOCAL_WRITE_FAILED, full.stderr
    assert "5 of its records were refused" in full.stderr
    assert accepted_total(fluentd.spool) == 10
    # Fluentd retries the whole chunk; by then there is room.
    fluentd.plugin.set_args(*FAST, "--spool-max-events", "100")
    retried = fluentd.flush(chunk)
    assert retried.returncode == 0, retried.stderr
    assert "10 lines were taken by an earlier run" in retried.stderr
    assert accepted_total(fluentd.spool) == 15
    wait_until(all_arrived(emu, range(15)), 30, "all 15 signals")


def test_okta_refusing_the_credential_still_commits_the_spooled_chunk(tmp_path: Path) -> None:
    with emulator(api_token="another-token", rate="1000/s") as emu:
        fluentd = OutExec(tmp_path, emu)
        done = fluentd.flush(fluentd.chunk("5f2c0a1b2c3d4e63", json_chunk(range(5))))
    assert done.returncode == 0, done.stderr
    assert "delivery is stopped" in done.stderr and "left_in_spool=5" in done.stderr


# -- in-process ------------------------------------------------------------------------------


def test_exit_codes_say_whether_fluentd_may_commit() -> None:
    whole = ChunkResult(lines=5, not_taken=0)
    assert fluentd_exit_code(ExitStatus.OK, whole) == 0
    assert fluentd_exit_code(ExitStatus.AUTH_FAILED, whole) == 0
    assert fluentd_exit_code(ExitStatus.OK, ChunkResult(lines=5, not_taken=2)) == 6
    assert (
        fluentd_exit_code(ExitStatus.OK, ChunkResult(lines=2, not_taken=0, interrupted=True)) == 6
    )
    assert fluentd_exit_code(ExitStatus.OK, None) == 6
    assert fluentd_exit_code(ExitStatus.USAGE, None) == 2


def test_chunk_memory_keeps_lines_of_a_partial_chunk_until_it_is_whole(tmp_path: Path) -> None:
    memory = ChunkMemory(str(tmp_path / "chunks.db"))
    assert memory.done_lines("abc") == frozenset()
    memory.record("abc", [1, 2])
    memory.record("abc", [3])
    assert memory.done_lines("abc") == frozenset({1, 2, 3})
    memory.record("abc", [], complete=True)
    assert memory.done_lines("abc") is None
    memory.forget_older_than(-1.0)  # everything is older than a second from now
    assert memory.done_lines("abc") == frozenset()
    memory.close()


def test_tsv_rows_become_json_objects_and_odd_rows_stay_as_they_were() -> None:
    import io

    data = b"2001:db8::1\tHIGH\tbrute force\n\t\t\n2001:db8::2\tLOW\n"
    lines = list(chunk_lines(io.BytesIO(data), "c", 1 << 20, ChunkFormat("tsv")))
    assert json.loads(lines[0].data) == {
        "ip": "2001:db8::1",
        "riskLevel": "HIGH",
        "message": "brute force",
    }
    assert lines[1].data == b""  # all columns empty: a blank line
    assert lines[2].data == b"2001:db8::2\tLOW"  # two columns for three keys
