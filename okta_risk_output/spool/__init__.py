"""The spool: the durable queue between intake and delivery.

What lives here:

    store.py     the contract any backend keeps (`Store`) and the values crossing it
                 (`Lease`, `PutResult`, `SpoolPolicy`): read it first
    signals.py   `Signal`, what the spool hands out
    subjects.py  a subject coming in: its cost (--spool-max-bytes) and the merge rule
    holders.py   lease ids that name their holder, and when a holder is soundly dead
    pacing.py    the token bucket's rule, shared with delivery/ratelimit.py
    sqlite.py    `Spool`, the SQLite backend, and its sqlite_*.py modules (the list is
                 in its docstring)

It may import only observe and the kernel (errors, clock, levels, timestamps...): never
intake, delivery or okta, which sit above it. Importing this package imports none of its
modules.
"""
