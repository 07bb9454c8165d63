"""The fast path (fastjsonschema over the inlined schema) and the plain jsonschema validator
over the schema files give the same verdicts, and the same errors."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from okta_risk_output.intake.validation import EVENT_SCHEMA, REQUEST_SCHEMA, Validator

FAST = {name: Validator(name) for name in (EVENT_SCHEMA, REQUEST_SCHEMA)}
PLAIN = {name: Validator(name, reference=True) for name in (EVENT_SCHEMA, REQUEST_SCHEMA)}

ips = st.sampled_from(
    [
        "192.0.2.1",
        "2001:db8::1",
        "01.2.3.4",
        "1.2.3.4/8",
        "fe80::1%1",
        "x",
        " 192.0.2.1",
        "::ffff:192.0.2.1",
        "192.0.2.1\n",
        "1.2.3.4.5",
        "::",
    ]
)
stamps = st.sampled_from(
    [
        "2026-11-27T10:00:00.000Z",
        "2026-11-27T10:00:00Z",
        "2026-13-01T00:00:00Z",
        "today",
        "",
        "2026-11-27T10:00:00.1234Z",
        "2026-11-27T10:00:00+00:00",
        "2026-02-30T10:00:00Z",
        "2026-11-27t10:00:00z",
        "2026-11-27T10:00:00.000Z\n",
    ]
)
subjects = st.fixed_dictionaries(
    {},
    optional={
        "ip": st.one_of(ips, st.integers()),
        "riskLevel": st.sampled_from(["HIGH", "MEDIUM", "LOW", "high", "NONE"]),
        "message": st.one_of(
            st.text(max_size=20),
            st.sampled_from(["a" * 512, "a" * 513, "ok\n", "caf\u00e9", " ", "x.y-z_1"]),
        ),
        "extra": st.none(),
    },
)
events = st.fixed_dictionaries(
    {},
    optional={
        "subjects": st.lists(subjects, max_size=52),
        "timestamp": stamps,
        "expiresAt": st.one_of(stamps, st.integers()),
        "other": st.booleans(),
    },
)


@settings(max_examples=300, deadline=None)
@given(instance=st.one_of(events, st.none(), st.text(max_size=5)))
def test_event_verdicts_agree(instance: Any) -> None:
    assert FAST[EVENT_SCHEMA].errors(instance) == PLAIN[EVENT_SCHEMA].errors(instance)


@settings(max_examples=100, deadline=None)
@given(instance=st.lists(events, max_size=22))
def test_request_verdicts_agree(instance: Any) -> None:
    assert FAST[REQUEST_SCHEMA].errors(instance) == PLAIN[REQUEST_SCHEMA].errors(instance)
