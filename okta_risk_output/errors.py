"""Errors named for what the caller must do about them, and the one table of exit codes.

- ConfigError: fatal before anything is read; fix the settings.
- DeliveryStopped: Okta refused us in a way retrying cannot fix (401, 403, 404, ...);
  stop sending, keep what is undelivered, tell the operator what to check.
- LocalWriteError: the spool or the dead-letter file could not be written (or opened);
  nothing more may be accepted.
- RecordRejected: one input line is bad; dead-letter it and carry on.
- RecordSkipped: one input line is, by design, not for Okta; count it and carry on.
- OAuthError: the token endpoint refused the OAuth client (a DeliveryStopped); fix the app
  or the key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DeliveryStopped",
    "ExitStatus",
    "LocalWriteError",
    "OAuthError",
    "OktaRiskOutputError",
    "RecordRejected",
    "RecordSkipped",
    "SchemaError",
]


class ExitStatus(enum.IntEnum):
    """Exit codes. README.md and `--help` print this same table."""

    OK = 0
    """Every line read was spooled, skipped or dead-lettered as designed (what is not yet
    delivered stays in the spool)."""
    UNEXPECTED = 1
    """A bug or an unforeseen failure; the message says where."""
    USAGE = 2
    """Bad flags, environment or configuration; nothing was sent."""
    AUTH_FAILED = 3
    """Okta answered 401: the credential is wrong, expired or revoked."""
    PERMISSION_DENIED = 4
    """Okta answered 403: the credential lacks the right to send risk events."""
    ENDPOINT_MISSING = 5
    """Okta answered 404/405/410 or redirected: wrong org URL, or the endpoint is switched off."""
    LOCAL_WRITE_FAILED = 6
    """The spool or the dead-letter file could not be written (disk full, permissions)."""
    NOT_OKTA = 7
    """Answers that are not Okta's (a 400 without errorCode, an HTML page) kept coming: a
    proxy, WAF or load balancer stands between us and Okta. Nothing was dead-lettered."""

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitStatus.OK: "done: every line read was spooled, skipped or dead-lettered as designed",
    ExitStatus.UNEXPECTED: "unexpected error (a bug or unforeseen failure)",
    ExitStatus.USAGE: "usage or configuration error; nothing was sent",
    ExitStatus.AUTH_FAILED: "delivery stopped: Okta rejected the credential (401)",
    ExitStatus.PERMISSION_DENIED: "delivery stopped: the credential may not send risk events (403)",
    ExitStatus.ENDPOINT_MISSING: (
        "delivery stopped: endpoint not found (404/405/410 or a redirect): wrong org URL, "
        "or Okta switched the deprecated endpoint off"
    ),
    ExitStatus.LOCAL_WRITE_FAILED: (
        "the spool or the dead-letter file could not be written (disk full, permissions)"
    ),
    ExitStatus.NOT_OKTA: (
        "delivery stopped: something other than Okta (a proxy, WAF or load balancer) keeps "
        "answering"
    ),
}


class OktaRiskOutputError(Exception):
    """Root of the project's own errors."""

    exit_status = ExitStatus.UNEXPECTED


class ConfigError(OktaRiskOutputError):
    """Settings that cannot work; carries every problem found, not just the first."""

    exit_status = ExitStatus.USAGE

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class DeliveryStopped(OktaRiskOutputError):
    """Okta refused the requests in a way no retry can fix; the operator must act."""

    def __init__(self, message: str, exit_status: ExitStatus, status_code: int | None = None):
        super().__init__(message)
        self.exit_status = exit_status
        self.status_code = status_code


class LocalWriteError(OktaRiskOutputError):
    """A record could not be kept on local disk, so it must not be counted as accepted."""

    exit_status = ExitStatus.LOCAL_WRITE_FAILED


class RecordRejected(OktaRiskOutputError):
    """One input record is unusable; it goes to the dead-letter file with every reason."""

    def __init__(self, kind: str, errors: list[SchemaError]) -> None:
        self.kind = kind
        self.errors = errors
        super().__init__(f"{kind}: " + "; ".join(f"{e.path}: {e.message}" for e in errors))


class OAuthError(DeliveryStopped):
    """Okta's token endpoint refused us, or answered what no retry can fix (issue 5).

    `error` is the OAuth error code (`invalid_client`, `invalid_scope`, ...) when Okta gave
    one. The message names what to check and never carries a key, assertion or token.
    """

    def __init__(
        self,
        message: str,
        exit_status: ExitStatus,
        status_code: int | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message, exit_status, status_code)
        self.error = error


class RecordSkipped(OktaRiskOutputError):
    """A record that by design becomes no event (a profile's non-alert record, a private
    address): counted by reason, neither spooled nor dead-lettered."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"skipped: {reason}")


@dataclass(frozen=True)
class SchemaError:
    """One reason an instance fails the schema: where (a JSON path) and why, in plain words."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}
