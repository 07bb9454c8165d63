"""Run a command as a grandchild, so that the kernel's figures for it are its own.

    python -I -S bench/launch.py FD COMMAND [ARG...]     (common.Child runs it)

A child's ru_maxrss starts from its parent's peak: a child made by vfork or fork, then
exec, keeps the high-water mark of the memory it was made from (Linux carries it over
exec). A benchmark that has built a large spool would see its own peak in every child. So
this small interpreter (no site, stdlib only, a few MB) forks COMMAND, waits for it with
wait4, and writes on FD its pid (at once, one line), then one JSON line: its exit status,
the wall time from fork to exit, its user + system CPU seconds and its peak RSS in KiB.
SIGTERM and SIGINT are passed on to it. The launcher's own size (about 8 MB) is the floor
of every RSS figure: any Python program of ours is above it.
"""

import json
import os
import signal
import sys
import time


def main() -> None:
    report = os.fdopen(int(sys.argv[1]), "w")
    argv = sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            report.close()
            os.execvp(argv[0], argv)  # noqa: S606 - the command as given, no shell
        finally:
            os._exit(127)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: os.kill(pid, signum))
    report.write(f"{pid}\n")
    report.flush()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    figures = {
        "status": os.waitstatus_to_exitcode(status),
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }
    report.write(json.dumps(figures) + "\n")
    report.close()


if __name__ == "__main__":
    main()
