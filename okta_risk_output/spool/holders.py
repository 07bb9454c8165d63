"""Who holds a lease, and when another process may be judged dead without waiting.

A lease id names its holder: host name, boot id, PID namespace, PID, then a random token
and the lease's length in seconds (`token~90`).
Another process may declare the holder dead (and take its signals at once instead of at
the lease's expiry) only when that judgement is sound: the same host name, the same boot
(`/proc/sys/kernel/random/boot_id`) and the same PID namespace (the inode of
`/proc/self/ns/pid`), and no process with that PID. Containers that share a volume and a
host name differ in PID namespace, so a PID seen from one says nothing about the other; a
reboot reuses PIDs. Where any part is unknown (an older lease id, no /proc), the holder is
never judged dead: its lease simply runs out.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid

__all__ = ["holder_is_dead", "lease_length", "new_lease_id"]

_UNKNOWN = "-"


def new_lease_id(seconds: float) -> str:
    """A lease id naming its holder and the lease's length (other processes cap a stored
    expiry by the length its holder asked for, not by their own)."""
    return f"{_identity()}:{os.getpid()}:{uuid.uuid4().hex[:12]}~{int(seconds + 0.999)}"


def lease_length(lease_id: str) -> float | None:
    """The seconds a lease was taken for, when its id says (ids of older versions do not)."""
    _, tilde, length = lease_id.rpartition("~")
    return float(length) if tilde and length.isdigit() else None


def holder_is_dead(lease_id: str) -> bool:
    """True only when the holder ran on this boot, in this PID namespace, and is gone."""
    parts = lease_id.split(":")
    if len(parts) != 5:
        return False  # an older form (host:pid:token) or a foreign one: wait for expiry
    host, boot, namespace, pid_text, _token = parts
    if _UNKNOWN in (boot, namespace) or f"{host}:{boot}:{namespace}" != _identity():
        return False
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


@functools.lru_cache(maxsize=1)
def _identity() -> str:
    # Colons separate the parts; no part of ours can contain one.
    host = socket.gethostname().replace(":", "_") or _UNKNOWN
    return f"{host}:{_boot_id()}:{_pid_namespace()}"


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            text = file.read().strip().replace("-", "")
    except (OSError, UnicodeError):
        return _UNKNOWN
    return text if text.isalnum() else _UNKNOWN


def _pid_namespace() -> str:
    try:
        stat = os.stat("/proc/self/ns/pid")
    except OSError:
        return _UNKNOWN
    return f"{stat.st_dev}.{stat.st_ino}"
