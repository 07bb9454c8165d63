"""Reading what a server answered, safely: a bounded body, JSON that never raises, headers.

One home for every answer this program reads (Okta's API, its token endpoint, splunkd):
`read_answer` reads a bounded prefix of a streamed body, `json_object` parses it and never
raises, `header_min` reads a numeric header that may repeat, `describe_answer` says what
answered when it was not Okta, and `printable` keeps echoed text short and printable.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from okta_risk_output.depth import nests_deeper_than

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_JSON_DEPTH",
    "cut_short_okta_error",
    "describe_answer",
    "header_min",
    "json_object",
    "okta_shaped",
    "printable",
    "read_answer",
]


MAX_ANSWER_BYTES = 64 * 1024
"""Okta's answers are a few hundred bytes; no more than this of any body is read or parsed
(a 2 GB body once took 4.3 GB of memory)."""


MAX_JSON_DEPTH = 32
"""Okta's bodies nest 3 deep; a deeper one is not taken as JSON (100,000 deep once crashed
the process with a RecursionError before the ack, on every restart)."""


def header_min(response: requests.Response, name: str) -> int | None:
    """The smallest integer value of a header that may repeat (requests joins repeats with ',')."""
    raw = response.headers.get(name)
    if raw is None:
        return None
    values = []
    for part in raw.split(","):
        text = part.strip()
        # At most 15 digits: int() takes thousands, and such a number mixed with a float
        # (a Reset minus the time) raises OverflowError. No real header comes near it.
        if len(text.lstrip("+-")) > _HEADER_DIGITS:
            continue
        try:
            values.append(int(text))
        except ValueError:
            continue
    return min(values) if values else None


_HEADER_DIGITS = 15


def read_answer(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """Read a streamed answer's body, at most `limit` + 1 bytes, and close the response.

    A longer body is not drained: closing the response closes its connection. The prefix
    becomes `response.content`, so `.content`, `.text` and `.json()` work as usual; one
    byte past `limit` is kept so that `json_object` can tell the body was cut short.
    """
    data = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=16 * 1024):
            data += chunk
            if len(data) > limit:
                break
    finally:
        response.close()
    response._content = bytes(data[: limit + 1])
    return response._content


def json_object(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> dict[str, Any]:
    """The answer's body when it is a JSON object, else {} (an HTML error page, nothing).

    Never raises: a body longer than `limit` (cut short), not UTF-8, not JSON, or nested
    deeper than MAX_JSON_DEPTH is no JSON object to us. A streamed response must have been
    read with `read_answer` first.
    """
    content = response.content
    if not content or len(content) > limit:
        return {}
    try:
        body = json.loads(content.decode("utf-8"))  # Okta speaks UTF-8 (RFC 8259)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    if not isinstance(body, dict) or nests_deeper_than(body, MAX_JSON_DEPTH):
        return {}
    return body


_CUT_OKTA_ERROR = re.compile(
    rb'\s*\{\s*"errorCode"\s*:\s*"([A-Za-z0-9_]{1,32})"'
    rb'(?:\s*,\s*"errorSummary"\s*:\s*("(?:[^"\\]|\\.){0,1000}"))?'
)


def cut_short_okta_error(content: bytes) -> dict[str, Any]:
    """An Okta error body longer than MAX_ANSWER_BYTES (thousands of causes) was cut short,
    so it is no JSON; but Okta sends errorCode and errorSummary first, and they still say
    the answer is Okta's. Bisection then goes on to single events, whose answers are small.
    """
    found = _CUT_OKTA_ERROR.match(content) if len(content) > MAX_ANSWER_BYTES else None
    if found is None:
        return {}
    try:
        summary = json.loads(found.group(2) or b'""')
    except ValueError:
        summary = ""
    return {
        "errorCode": found.group(1).decode("ascii"),
        "errorSummary": f"{summary} (the rest of the answer, over "
        f"{MAX_ANSWER_BYTES >> 10} KiB, was not read)".lstrip(),
    }


def okta_shaped(body: dict[str, Any]) -> bool:
    """Okta's error bodies always carry an errorCode (E0000001, ...)."""
    code = body.get("errorCode")
    return isinstance(code, str) and bool(code.strip())


def describe_answer(response: requests.Response) -> str:
    """What answered, for an operator hunting the proxy: Content-Type, Server, and the
    page's <title> or the first printable characters of its body."""
    headers = response.headers
    parts = [f"Content-Type {printable(headers.get('Content-Type') or 'none', 80)}"]
    server = headers.get("Server")
    if server:
        parts.append(f"Server {printable(server, 80)}")
    head = (response.content or b"")[:MAX_ANSWER_BYTES]
    title = _title(head)
    if title:
        parts.append(f"title {title!r}")
    else:
        text = printable(" ".join(head[:4096].decode("utf-8", "replace").split()), 100)
        blank = f"a blank body of {len(head)}+ bytes" if head else "an empty body"
        parts.append(f"body {text!r}" if text else blank)
    return ", ".join(parts)


def _title(page: bytes) -> str:
    """An HTML page's <title>; found with find(), not a regex, to stay linear."""
    lower = page.lower()
    start = lower.find(b"<title")
    opened = lower.find(b">", start) if start >= 0 else -1
    end = lower.find(b"</title", opened) if opened >= 0 else -1
    if end < 0:
        return ""
    text = page[opened + 1 : end].decode("utf-8", "replace")
    return printable(" ".join(text.split()), 100)


def printable(text: str, limit: int = 500) -> str:
    """Okta may echo input in error text: keep it printable and short."""
    # Cut first: one character in gives one out, and the text may be long.
    return "".join(c if c.isprintable() else "?" for c in str(text)[:limit])
