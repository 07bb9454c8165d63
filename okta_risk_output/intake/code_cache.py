"""Generated code kept between runs: fastjsonschema's validator, compiled once per schema.

Generating and compiling the validator costs ~40 ms at every start, a quarter of a one-line
`enqueue`; loading it compiled (marshal) costs ~0.2 ms. The file is named by a hash of what
the code depends on (the schema, fastjsonschema's version, this Python's bytecode magic),
so a changed schema or upgrade never runs stale code; anything wrong with the cache (no
home, a read-only disk, a damaged or foreign file) only means building the code again.

Where: $XDG_CACHE_HOME/okta-risk-output (else ~/.cache/okta-risk-output). It is code that
runs, so the cache is used only while the folder is a real folder (no symlink) of this
user that nobody else may write, and a file is loaded only if it is a regular file (never
followed through a symlink, never a pipe or device), of this user, that nobody else may
write, and of a sane size. Else the code is built as if there were no cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import stat
from collections.abc import Callable
from types import CodeType

__all__ = ["cached_code"]


def cached_code(name: str, key: str, build: Callable[[], str]) -> CodeType:
    """The compiled code of `build()` (Python source), from the cache when it holds the one
    for `key` (everything the source depends on, as text)."""
    digest = hashlib.sha256(key.encode("utf-8") + importlib.util.MAGIC_NUMBER).hexdigest()[:32]
    folder = _folder()
    path = None if folder is None else os.path.join(folder, f"{name}-{digest}.marshal")
    if path is not None:
        code = _load(path)
        if code is not None:
            return code
    code = compile(build(), f"<{name}>", "exec")
    if path is not None:
        _store(path, code)
    return code


_MOST_BYTES = 4 << 20
"""Larger than any validator's code (about 20 KB): a bigger file is not ours."""


def _folder() -> str | None:
    """The cache folder, made if missing; None when it may not be trusted."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None  # no home ("~" left as it is), or a relative setting
    folder = os.path.join(base, "okta-risk-output")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or not _ours(info):
        return None  # a symlink, or a folder another user made or may write
    return folder


def _ours(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(path: str) -> CodeType | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        handle = os.open(path, flags)
    except OSError:
        return None  # missing, or a symlink
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or not _ours(info) or info.st_size > _MOST_BYTES:
            return None
        with os.fdopen(handle, "rb") as file:
            handle = -1  # the file object closes it now
            data = file.read(_MOST_BYTES + 1)
        code = marshal.loads(data)  # noqa: S302 - our own file, its kind, owner and mode checked
    except (OSError, ValueError, EOFError, TypeError):
        return None
    finally:
        if handle >= 0:
            os.close(handle)
    return code if isinstance(code, CodeType) else None


def _store(path: str, code: CodeType) -> None:
    """Written whole or not at all (a temporary file renamed), so that two processes
    starting at once, or one killed mid-write, never leave half a file."""
    temporary = f"{path}.{os.getpid()}.tmp"  # not tempfile: its import costs a start 20 ms
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        handle = os.open(temporary, flags, 0o600)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(marshal.dumps(code))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # no cache this time: the next start builds it again
