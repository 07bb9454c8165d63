"""`status` for people: the spool's report as a short table."""

from __future__ import annotations

from typing import Any

__all__ = ["render_status"]


def render_status(report: dict[str, Any]) -> str:
    levels = report["by_risk_level"]
    totals = report["totals"]
    age = report["oldest_age_seconds"]
    rows = [
        ("spool", report["spool"]),
        (
            "signals waiting",
            f"{report['signals']} (HIGH {levels['HIGH']}, MEDIUM "
            f"{levels['MEDIUM']}, LOW {levels['LOW']})",
        ),
        ("in flight", str(report["in_flight"])),
        ("waiting to retry", str(report["waiting_retry"])),
        ("oldest waiting", "-" if age is None else _age(age)),
        ("file size", _size(report["file_bytes"])),
        ("last delivery error", report["last_error"] or "-"),
        ("since created", ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in totals.items())),
    ]
    if report["damaged_spools_moved_aside"]:
        rows.append(("damaged spools moved aside", str(report["damaged_spools_moved_aside"])))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
