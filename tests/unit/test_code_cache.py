"""The validator's generated code, kept between runs: built once, never stale, never
trusted from a file another user could have written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from okta_risk_output.intake.code_cache import cached_code


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "okta-risk-output"


def _run(code: object) -> object:
    namespace: dict[str, object] = {}
    exec(code, namespace)  # type: ignore[arg-type]  # noqa: S102 - the test's own source
    return namespace["answer"]


def test_the_code_is_built_once_and_loaded_after(cache: Path) -> None:
    built: list[str] = []

    def build() -> str:
        built.append("once")
        return "answer = 42"

    assert _run(cached_code("t", "key", build)) == 42
    assert _run(cached_code("t", "key", build)) == 42
    assert built == ["once"]
    (kept,) = cache.iterdir()
    assert kept.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    assert _run(cached_code("t", "another key", lambda: "answer = 7")) == 7  # never stale


def test_a_damaged_or_writable_file_is_built_again(cache: Path) -> None:
    cached_code("t", "key", lambda: "answer = 1")
    (kept,) = cache.iterdir()
    kept.write_bytes(b"\x00garbage")
    assert _run(cached_code("t", "key", lambda: "answer = 2")) == 2
    os.chmod(kept, 0o666)  # noqa: S103 - anyone could have written it: never run
    assert _run(cached_code("t", "key", lambda: "answer = 3")) == 3


def test_no_cache_folder_means_building_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert _run(cached_code("t", "key", lambda: "answer = 5")) == 5


def test_a_folder_others_may_write_is_not_used(cache: Path) -> None:
    cache.mkdir(mode=0o700)
    os.chmod(cache, 0o777)  # noqa: S103 - as another user could have left it
    built: list[str] = []

    def build() -> str:
        built.append("again")
        return "answer = 1"

    for _ in range(2):
        cached_code("t", "key", build)
    assert built == ["again", "again"] and list(cache.iterdir()) == []


def test_a_symlink_or_a_pipe_in_its_place_is_never_read(cache: Path) -> None:
    cached_code("t", "old", lambda: "answer = 'old'")
    (old,) = cache.iterdir()
    cached_code("t", "new", lambda: "answer = 'new'")
    (new,) = [p for p in cache.iterdir() if p != old]
    new.unlink()
    new.symlink_to(old)  # another key's code, under this key's name
    assert _run(cached_code("t", "new", lambda: "answer = 'new'")) == "new"
    new.unlink()
    os.mkfifo(new)  # opening a pipe for reading would wait for a writer for ever
    answers: list[object] = []
    reader = threading.Thread(
        target=lambda: answers.append(_run(cached_code("t", "new", lambda: "answer = 3"))),
        daemon=True,
    )
    reader.start()
    reader.join(timeout=20)
    assert answers == [3]
