"""Generated code kept between runs: fastjsonschema's validator, compiled once per schema.

Generating and compiling the validator costs ~40 ms at every start, a quarter of a one-line
`enqueue`; loading it compiled (marshal) costs ~0.2 ms. The file is named by a hash of what
the code depends on (the schema, fastjsonschema's version, this Python's bytecode magic),
so a changed schema or upgrade never runs stale code; anything wrong with the cache (no
home, a read-only disk, a damaged or foreign file) only means building the code again.

Where: $XDG_CACHE_HOME/okta-risk-output (else ~/.cache/okta-risk-output), a folder of its
owner alone; a file is loaded only if this user owns it and nobody else may write it, as
it is code that runs.
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


def _folder() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None  # no home ("~" left as it is), or a relative setting
    return os.path.join(base, "okta-risk-output")


def _load(path: str) -> CodeType | None:
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
            code = marshal.loads(file.read())  # noqa: S302 - our own file, its owner and mode checked
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def _store(path: str, code: CodeType) -> None:
    """Written whole or not at all (a temporary file renamed), so that two processes
    starting at once, or one killed mid-write, never leave half a file."""
    temporary = f"{path}.{os.getpid()}.tmp"  # not tempfile: its import costs a start 20 ms
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(marshal.dumps(code))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # no cache this time: the next start builds it again
