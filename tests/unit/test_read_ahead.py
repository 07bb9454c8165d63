"""The reader thread hands lines to intake in batches, within its memory budget, and says how
many lines it read that intake never took (loop.py's _ReadAhead and _Shelf)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from okta_risk_output.intake import loop
from okta_risk_output.intake.loop import MAX_BATCH, _ReadAhead, _Shelf
from okta_risk_output.intake.reader import Line


def lines(count: int, size: int = 10) -> list[Line]:
    return [Line("test", n, b"x" * size, size) for n in range(1, count + 1)]


def test_every_line_arrives_in_order_in_batches_of_at_most_max_batch() -> None:
    given = lines(3 * MAX_BATCH + 7)
    ahead = _ReadAhead(iter(given), threading.Event())
    batches = list(ahead.batches())
    assert [line for batch in batches for line in batch] == given
    assert all(0 < len(batch) <= MAX_BATCH for batch in batches)
    assert ahead.ended
    assert ahead.close() == 0


@pytest.mark.parametrize(("max_lines", "max_bytes"), [(5, 1 << 20), (1000, 45)])
def test_the_reader_never_holds_more_than_its_budget(
    monkeypatch: pytest.MonkeyPatch, max_lines: int, max_bytes: int
) -> None:
    monkeypatch.setattr(loop, "_READ_AHEAD_LINES", max_lines)
    monkeypatch.setattr(loop, "_READ_AHEAD_BYTES", max_bytes)
    held: list[tuple[int, int]] = []
    ahead: _ReadAhead

    def source() -> Iterator[Line]:
        for line in lines(200):
            shelf = ahead._shelf
            held.append((len(shelf._lines), shelf._bytes))  # what it holds as it reads on
            yield line

    ahead = _ReadAhead.__new__(_ReadAhead)  # `source` needs the object before it starts
    _ReadAhead.__init__(ahead, source(), threading.Event())
    assert sum(len(batch) for batch in ahead.batches()) == 200
    # Room is waited for before each read: at most the budget (one line always fits).
    assert all(count == 0 or (count < max_lines and size < max_bytes) for count, size in held)


def test_take_hands_over_at_most_what_is_asked_and_the_end_only_when_nothing_is_left() -> None:
    shelf = _Shelf(1 << 20, 100, threading.Event())
    given = lines(5)
    for line in given:
        assert shelf.put(line)
    shelf.finish(loop._END)
    assert shelf.take(2, 0) == (given[:2], None)
    assert shelf.take(10, 0) == (given[2:], loop._END)


def test_lines_held_when_intake_closes_are_counted_as_never_taken() -> None:
    stop = threading.Event()
    shelf = _Shelf(1 << 20, 3, stop)
    assert shelf.put(lines(1)[0])
    assert shelf.put(lines(1)[0])
    stop.set()
    assert not shelf.put(lines(1)[0])  # full, and a stop: read no more
    assert not shelf.wait_for_room()
    assert shelf.halt() == 3
    batch, _ = shelf.take(2, 0)
    assert shelf.halt() == 1 and len(batch) == 2


def test_a_read_error_reaches_intake_after_the_lines_before_it() -> None:
    def source() -> Iterator[Line]:
        yield from lines(3)
        raise OSError("disk gone")

    ahead = _ReadAhead(source(), threading.Event())
    taken: list[Line] = []
    with pytest.raises(OSError, match="disk gone"):
        for batch in ahead.batches():
            taken += batch
    assert len(taken) == 3
    assert not ahead.ended


def test_after_a_stop_no_batch_is_handed_over_and_the_held_lines_are_counted() -> None:
    stop = threading.Event()
    stop.set()
    ahead = _ReadAhead(iter(lines(10)), stop)
    assert list(ahead.batches()) == []
    assert ahead.close() == 0  # the reader saw the stop before its first read
    assert not ahead.ended
