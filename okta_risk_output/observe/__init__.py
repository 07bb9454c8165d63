"""Seeing what it does: logs, counters, Prometheus metrics, the progress line, status.

    logs.py        stderr, one line per message, level word first (or JSON lines)
    counters.py    the run's counters and the conservation check; the summary line
    prometheus.py  the same figures as Prometheus metrics: a textfile and /metrics
    progress.py    the progress line and the terminal's live line
    observers.py   starting all of the above at once, and stopping them
    status.py      the `status` report as a table, once or over and over (--watch)

May import: the kernel only; the figures come in as values or callables, so nothing here
reaches into the spool or delivery.
"""
