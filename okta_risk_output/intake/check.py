"""`validate`: what `run` would make of each line, without sending or spooling anything.

Each line goes through the same reader and RecordMapper as `run` (same normalisation,
profile and limits), so a line `validate` passes is one `run` spools, and a line it flags
is one `run` dead-letters with the same kind and errors. For every bad line the report
gives its number and each error with its JSON path, the most relevant error first.

The most relevant error is chosen the way jsonschema's `best_match` chooses: the schema's
verdict on the normalised event is asked for its best match, which prefers errors higher
up in the document (a missing field explains more than a bad value beside it) and, within
an `anyOf`, the branch that got furthest. The mapper's explanation at that path is the
headline. Errors the mapper finds itself (an unknown field of a flat signal, a line that
is not JSON) have no schema verdict; for those the shallowest path comes first, which is
the same preference.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import jsonschema
from jsonschema.exceptions import best_match

from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake.reader import Line, read_lines
from okta_risk_output.intake.records import RecordMapper, is_blank
from okta_risk_output.intake.validation import EVENT_SCHEMA, SchemaError, Validator, inline_refs

__all__ = [
    "BadLine",
    "Checker",
    "Tally",
    "json_line",
    "most_relevant_first",
    "summary_json",
    "summary_text",
    "text_lines",
]

_FLAT_PREFIX = "$.subjects[0]"
"""records.py reports a flat signal's errors without this prefix; so must the headline."""


@dataclass(frozen=True)
class BadLine:
    """One line `run` would dead-letter: where it is, its kind, and every error."""

    source: str
    line: int
    kind: str
    errors: tuple[SchemaError, ...]
    """The most relevant error first, then the rest in path order."""

    @property
    def headline(self) -> SchemaError:
        return self.errors[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "kind": self.kind,
            "headline": self.headline.as_dict(),
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass
class Tally:
    """What the lines came to. Every line is exactly one of valid, invalid, skipped, blank."""

    lines: int = 0
    valid: int = 0
    invalid: int = 0
    skipped: int = 0
    blank: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def all_valid(self) -> bool:
        """Skipped and blank lines are by design, not errors."""
        return self.invalid == 0


class _WitnessValidator(Validator):
    """The event validator, remembering the last instance it judged.

    RecordMapper raises only the explained errors; the headline needs jsonschema's own
    errors for the same normalised event, which this lets us recompute.
    """

    def __init__(self) -> None:
        super().__init__(EVENT_SCHEMA)
        self.last: Any = None

    def errors(self, instance: Any) -> list[SchemaError]:
        self.last = instance
        return super().errors(instance)


class Checker:
    """Checks lines and keeps the tally; never writes anything anywhere."""

    def __init__(self, mapper: RecordMapper) -> None:
        """`mapper`: the one `run` would use (config's `record_mapper`); its validator is
        replaced by one that keeps the event it judged, for the report."""
        self._witness = _WitnessValidator()
        self._mapper = dataclasses.replace(mapper, validator=self._witness)
        self._max_line_bytes = mapper.max_line_bytes
        schema = inline_refs(EVENT_SCHEMA)
        cls = jsonschema.validators.validator_for(schema)
        self._judge = cls(schema, format_checker=cls.FORMAT_CHECKER)
        self.tally = Tally()

    def check_stream(self, stream: BinaryIO, source: str, now: float) -> Iterator[BadLine]:
        """Every bad line of one input, in order."""
        for line in read_lines(stream, source, self._max_line_bytes):
            bad = self.check(line, now)
            if bad is not None:
                yield bad

    def check(self, line: Line, now: float) -> BadLine | None:
        """One line: None when `run` would spool, skip or ignore it; else why not."""
        tally = self.tally
        tally.lines += 1
        if is_blank(line):
            tally.blank += 1
            return None
        self._witness.last = None
        try:
            self._mapper.to_event(line, now)
        except RecordSkipped as skip:
            tally.skipped += 1
            tally.skipped_by_reason[skip.reason] = tally.skipped_by_reason.get(skip.reason, 0) + 1
            return None
        except RecordRejected as exc:
            rejection = exc
        except Exception as exc:  # noqa: BLE001 - as in intake: a bug costs one line, not the run
            rejection = RecordRejected("internal_error", [SchemaError("$", repr(exc)[:300])])
        else:
            tally.valid += 1
            return None
        tally.invalid += 1
        instance = self._witness.last if rejection.kind == "invalid" else None
        errors = most_relevant_first(rejection.errors, self._best_path(instance))
        return BadLine(line.source, line.number, rejection.kind, errors)

    def _best_path(self, instance: Any) -> str | None:
        if instance is None:
            return None
        best = best_match(self._judge.iter_errors(instance))
        return None if best is None else best.json_path


def most_relevant_first(
    errors: list[SchemaError], best_path: str | None = None
) -> tuple[SchemaError, ...]:
    """The errors with the headline first: the one at jsonschema's best-match path when
    there is one (for a flat signal, that path without `$.subjects[0]`), else the
    shallowest; the rest keep their (path) order."""
    if not errors:
        return ()
    index = None
    if best_path is not None:
        wanted = [best_path]
        if best_path.startswith(_FLAT_PREFIX):
            wanted.append("$" + best_path[len(_FLAT_PREFIX) :])
        index = next((i for w in wanted for i, e in enumerate(errors) if e.path == w), None)
    if index is None:
        index = min(range(len(errors)), key=lambda i: (_depth(errors[i].path), i))
    return (errors[index], *errors[:index], *errors[index + 1 :])


def _depth(path: str) -> int:
    """How deep a JSON path points: `$` is 0, `$.a` 1, `$.a[0].b` 3."""
    return path.count(".") + path.count("[")


# -- output --------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    # Messages may quote input; a report line must stay one line.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def text_lines(bad: BadLine) -> list[str]:
    """`FILE:LINE: KIND: PATH: MESSAGE`, one per error, the headline first."""
    return [
        _one_line(f"{bad.source}:{bad.line}: {bad.kind}: {e.path}: {e.message}") for e in bad.errors
    ]


def json_line(bad: BadLine) -> str:
    return json.dumps({"type": "invalid", **bad.as_dict()}, separators=(",", ":"))


def summary_text(tally: Tally) -> str:
    """`N lines: V valid, I invalid, S skipped, B blank`, reasons for skipping in brackets."""
    reasons = " ".join(f"{k}={v}" for k, v in sorted(tally.skipped_by_reason.items()))
    why = f" ({reasons})" if reasons else ""
    return (
        f"{tally.lines} lines: {tally.valid} valid, {tally.invalid} invalid, "
        f"{tally.skipped} skipped{why}, {tally.blank} blank"
    )


def summary_json(tally: Tally) -> str:
    return json.dumps(
        {
            "type": "summary",
            "lines": tally.lines,
            "valid": tally.valid,
            "invalid": tally.invalid,
            "skipped": tally.skipped,
            "blank": tally.blank,
            "skipped_by_reason": dict(sorted(tally.skipped_by_reason.items())),
        },
        separators=(",", ":"),
    )
