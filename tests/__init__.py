"""The test suite: `pytest` (or `pytest -n auto`) from the repository root.

tests is a package so that every helper has one importable name: the shared helpers live
in tests/support.py (`from tests.support import FakeClock`), the fixtures and hooks in
tests/conftest.py, and the helpers of the host tests in tests/hosts/hostkit.py. Nothing
imports conftest by name. Tests import okta_risk_output and these helpers, never each other.
"""
