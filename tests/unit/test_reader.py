"""Byte lines: endings, the byte-order mark, size limits."""

from __future__ import annotations

import io

from okta_risk_output.intake.reader import KEEP_OF_OVERSIZED, read_lines


def lines(data: bytes, max_bytes: int = 100) -> list[tuple[int, bytes, int, bool]]:
    return [
        (ln.number, ln.data, ln.size, ln.oversized)
        for ln in read_lines(io.BytesIO(data), "t", max_bytes)
    ]


def test_lf_crlf_and_a_last_line_without_ending() -> None:
    assert lines(b"a\nb\r\n\nc") == [
        (1, b"a", 1, False),
        (2, b"b", 1, False),
        (3, b"", 0, False),
        (4, b"c", 1, False),
    ]


def test_a_byte_order_mark_is_dropped_only_at_the_start() -> None:
    bom = b"\xef\xbb\xbf"
    assert lines(bom + b"a\n" + bom + b"b\n") == [(1, b"a", 1, False), (2, bom + b"b", 4, False)]


def test_a_line_at_the_limit_is_kept_and_one_byte_more_is_oversized() -> None:
    assert lines(b"x" * 100 + b"\nnext\n") == [(1, b"x" * 100, 100, False), (2, b"next", 4, False)]
    assert lines(b"x" * 101 + b"\nnext\n") == [(1, b"x" * 101, 101, True), (2, b"next", 4, False)]


def test_an_oversized_line_keeps_only_its_start_and_the_next_line_survives() -> None:
    huge = b"y" * 3_000_000
    got = lines(huge + b"\r\nafter", max_bytes=1 << 20)
    assert got[0] == (1, b"y" * KEEP_OF_OVERSIZED, 3_000_000, True)
    assert got[1] == (2, b"after", 5, False)


def test_neither_a_byte_order_mark_nor_a_cr_pushes_a_line_over_the_limit() -> None:
    bom = b"\xef\xbb\xbf"
    at_limit = b"x" * 100
    assert lines(bom + at_limit + b"\r\nnext\n") == [
        (1, at_limit, 100, False),
        (2, b"next", 4, False),
    ]
    assert lines(bom + at_limit + b"y\nnext\n") == [
        (1, at_limit + b"y", 101, True),
        (2, b"next", 4, False),
    ]
    assert lines(b"a\n" + at_limit + b"\r\n") == [(1, b"a", 1, False), (2, at_limit, 100, False)]
