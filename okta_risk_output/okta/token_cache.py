"""An access token kept in a file between runs, for hosts that start the program per batch.

Without it every short run would mint a token, and Okta's token endpoint has its own rate
limit. The file holds secrets (the token and, for a DPoP-bound token, the DPoP private key
it is bound to), so it is written with mode 0600, replaced atomically, and its content never
reaches a log line or an error message. Any problem with it is a WARN, never fatal: the
cache only saves a request.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from okta_risk_output.observe.logs import log
from okta_risk_output.okta.secret import Secret

__all__ = ["CachedToken", "TokenCacheFile"]

_FORMAT = 1


@dataclass(frozen=True)
class CachedToken:
    """What a run needs to reuse a token: the token and, when DPoP-bound, its key and nonce."""

    access_token: Secret
    scheme: Literal["Bearer", "DPoP"]
    expires_at: float
    renew_at: float
    scopes: tuple[str, ...]
    dpop_key: dict[str, Any] | None = None
    dpop_nonce: str | None = None

    def __repr__(self) -> str:
        return (
            f"CachedToken(scheme={self.scheme!r}, expires_at={self.expires_at!r}, "
            f"dpop_key={'<hidden>' if self.dpop_key else None})"
        )


class TokenCacheFile:
    """One token for one org, client and scope set; anything else in the file is ignored."""

    def __init__(
        self, path: Path, *, org_url: str, client_id: str, scopes: tuple[str, ...]
    ) -> None:
        self.path = path
        # A token minted for other scopes, another client or org is not ours to reuse.
        self._owner: dict[str, Any] = {
            "org_url": org_url,
            "client_id": client_id,
            "requested_scopes": list(scopes),
        }

    def load(self) -> CachedToken | None:
        """The cached token, or None when there is none that belongs to this client."""
        try:
            mode = self.path.stat().st_mode
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as problem:
            log.warning("ignoring the token cache %s: %s", self.path, _reason(problem))
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "the token cache %s is readable by group or others (mode %o); run chmod 600 on it",
                self.path,
                stat.S_IMODE(mode),
            )
        try:
            return self._parse(json.loads(text))
        except (ValueError, KeyError, TypeError):
            # Never quote the content: it is a credential.
            log.warning("ignoring the token cache %s: it is not a token cache file", self.path)
            return None

    def save(self, token: CachedToken) -> None:
        """Replace the file atomically: a reader sees the old token or the new, never half."""
        record = {
            "format": _FORMAT,
            **self._owner,
            "access_token": token.access_token.reveal(),
            "scheme": token.scheme,
            "expires_at": token.expires_at,
            "renew_at": token.renew_at,
            "scopes": list(token.scopes),
            "dpop_key": token.dpop_key,
            "dpop_nonce": token.dpop_nonce,
        }
        directory = self.path.parent
        temporary: str | None = None
        try:
            # mkstemp creates the file with mode 0600 before a byte is written.
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=directory
            )
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(record, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
            temporary = None
        except OSError as problem:
            log.warning("could not write the token cache %s: %s", self.path, _reason(problem))
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def _parse(self, record: Any) -> CachedToken | None:
        if not isinstance(record, dict) or record.get("format") != _FORMAT:
            raise ValueError("unknown format")
        if any(record.get(name) != value for name, value in self._owner.items()):
            return None
        dpop_key = record.get("dpop_key")
        dpop_nonce = record.get("dpop_nonce")
        scopes = record["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise TypeError("scopes")
        access_token = record["access_token"]
        scheme = record["scheme"]
        if not isinstance(access_token, str) or scheme not in ("Bearer", "DPoP"):
            raise TypeError("token")
        if scheme == "DPoP" and not isinstance(dpop_key, dict):
            raise TypeError("a DPoP token without its key")
        return CachedToken(
            access_token=Secret(access_token),
            scheme="DPoP" if scheme == "DPoP" else "Bearer",
            expires_at=float(record["expires_at"]),
            renew_at=float(record["renew_at"]),
            scopes=tuple(scopes),
            dpop_key=dpop_key if isinstance(dpop_key, dict) else None,
            dpop_nonce=dpop_nonce if isinstance(dpop_nonce, str) else None,
        )


def _reason(problem: OSError | UnicodeDecodeError) -> str:
    if isinstance(problem, OSError):
        return problem.strerror or type(problem).__name__
    return "not UTF-8 text"
