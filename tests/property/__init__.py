"""Hypothesis: arbitrary input against models and invariants (counting, the spool, profiles,
validation)."""
