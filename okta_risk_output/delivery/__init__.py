"""Delivery: from the spool to an output, paced, with every signal's fate settled.

Two sides of one seam (sink.py):

    the loop, shared by every output
      deliverer.py   `Deliverer.step()`: expire, lease a due batch, pace, send, settle
      settling.py    each fate written to the spool and the dead-letter file, and counted
      batching.py    when a batch is due
      ratelimit.py   pacing: the bucket, the end-to-start window, Okta's budget headers
      rejection.py   after a rejection: the bisection that isolates the guilty signals
      retry.py       the `Outcome` every sink reports
      backoff.py     the backoff policy (how long between attempts)
    one output, Okta's risk-events endpoint
      risk_events.py `RiskEventsSink`: the request, sending it, what its answers name
      packing.py     signals into RiskEvents of 50 subjects, 20 to a request
      retry.py       `classify()`: what that endpoint's answers mean

It may import okta, intake, spool, observe and the kernel (errors, clock, units...);
never config, shipper or cli above it. Importing this package imports none of its modules.
"""
