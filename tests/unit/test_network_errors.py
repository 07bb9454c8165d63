"""When no answer comes, one short line names the host and what to check, not the 300
characters of requests' and urllib3's wrapping."""

from __future__ import annotations

import socket

import pytest
import requests
import urllib3

from okta_risk_output.emulator import Emulator
from okta_risk_output.okta.network_errors import describe_network_error


def _error_of(url: str) -> requests.RequestException:
    try:
        requests.post(url, json=[], timeout=10)
    except requests.RequestException as exc:
        return exc
    raise AssertionError(f"{url} answered")


def test_a_host_that_refuses_is_named_and_the_url_suspected() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://127.0.0.1:{port}/api/v1/risk/events/ip"
    line = describe_network_error(_error_of(url), url, reached=False)
    assert line == (
        f"127.0.0.1:{port} refused the connection; no request of this run has reached it:"
        " check --org-url"
    )
    assert "check --org-url" not in describe_network_error(_error_of(url), url, reached=True)


@pytest.mark.emulator()
def test_tls_to_a_server_that_speaks_none_says_tls_and_ca_bundle(emu: Emulator) -> None:
    url = emu.url.replace("http://", "https://") + "/api/v1/risk/events/ip"
    line = describe_network_error(_error_of(url), url, reached=False)
    assert line.startswith(f"TLS with 127.0.0.1:{emu.url.rsplit(':', 1)[1]} failed: ")
    assert line.endswith("(--ca-bundle for a private CA or a TLS-inspecting proxy)")
    assert len(line) < 250


def test_a_name_that_never_resolved_says_so_in_one_line() -> None:
    # urllib3's own errors, as a failed lookup raises them (no DNS needed by the test).
    cause = urllib3.exceptions.NameResolutionError(
        "nonexistent-org.invalid", None, socket.gaierror(-2, "Name or service not known")
    )
    wrapped = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/api/v1/risk/events/ip", cause)  # type: ignore[arg-type]
    )
    url = "https://nonexistent-org.invalid/api/v1/risk/events/ip"
    assert describe_network_error(wrapped, url, reached=False) == (
        "cannot resolve nonexistent-org.invalid, the host of --org-url (it never resolved in"
        " this run): check the org URL and DNS"
    )
