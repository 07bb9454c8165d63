"""Arbitrary input, real emulator: every line is counted exactly once, and nothing crashes."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import build_settings
from okta_risk_output.emulator import Emulator
from okta_risk_output.errors import ExitStatus
from okta_risk_output.shipper import Shipper, Source
from tests.support import TOKEN

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
signals = st.fixed_dictionaries(
    {
        "ip": st.sampled_from(
            ["192.0.2.1", "2001:db8::9", "300.1.1.1", "192.0.2.0/24", "", "10.0.0.1"]
        ),
        "riskLevel": st.sampled_from(["HIGH", "medium", "Low", "SEVERE", 3]),
    },
    optional={
        "message": st.text(max_size=30),
        "timestamp": st.one_of(
            st.integers(), st.text(max_size=30), st.just("2026-11-27T10:00:00Z")
        ),
        "expiresAt": st.sampled_from(["2026-11-28T10:00:00+02:00", "tomorrow", 1795860000]),
        "extra": json_values,
    },
)
lines = st.one_of(
    st.binary(max_size=60),
    json_values.map(lambda v: json.dumps(v).encode()),
    signals.map(lambda v: json.dumps(v).encode()),
    st.just(b"   "),
    st.just(b"\xef\xbb\xbf{}"),
).map(lambda b: b.replace(b"\n", b" "))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(lines, max_size=30), trailing_newline=st.booleans())
def test_each_line_is_counted_exactly_once(
    emu: Emulator, batch: list[bytes], trailing_newline: bool
) -> None:
    emu.state.reset()
    data = b"\n".join(batch) + (b"\n" if trailing_newline and batch else b"")
    with tempfile.TemporaryDirectory() as folder:
        dead_letter = Path(folder) / "dead.jsonl"
        config = build_settings(
            {
                "dead_letter": str(dead_letter),
                "spool": str(Path(folder) / "spool.db"),
                "rate_limit": "100000/s",
            },
            {"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN},
        )
        shipper = Shipper(config, clock=SystemClock())
        status = shipper.run([Source("<stdin>", io.BytesIO(data))])
        totals = shipper.spool.totals()
        left = shipper.spool.live()
        shipper.close()
        entries = dead_letter.read_text().splitlines()
    counts = shipper.counters.snapshot()
    assert status is ExitStatus.OK
    physical_lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert counts["lines"] == physical_lines
    assert shipper.counters.balance()
    assert (
        counts["blank"] + counts["invalid"] + counts["skipped"] + counts["spooled"]
        == counts["lines"]
    )
    # Signals (one per subject): each accepted one was delivered or merged into another.
    assert left == 0
    assert totals["accepted"] == totals["delivered"] + totals["coalesced"] + totals["expired"]
    assert counts["delivered"] == totals["delivered"] == emu.state.stats()["subjects"]
    assert len(entries) == counts["invalid"]
