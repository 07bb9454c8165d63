"""The credential to deliver with: an API token (SSWS) or an OAuth service app's key.

Secrets come from OKTA_API_TOKEN or OKTA_PRIVATE_KEY, or from a file (--api-token-file,
--private-key-file), never from a flag's value, which would show in process listings. No
message here ever quotes a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from okta_risk_output.config.table import ENV
from okta_risk_output.config.values import Values
from okta_risk_output.errors import ConfigError
from okta_risk_output.okta.secret import Secret

if TYPE_CHECKING:
    from okta_risk_output.okta.oauth import OAuthSettings

__all__ = ["api_token", "auth_method", "oauth_settings"]


def auth_method(values: Values) -> str:
    """ssws or oauth: as told, else oauth when a client id is set, else ssws; "" when that
    cannot be decided (the problem is then among `values.problems`)."""
    method = values.value("auth", if_invalid="")
    if method == "":
        return ""
    has_token = bool(values.environ.get(ENV["api_token"]) or values.raw("api_token_file"))
    has_client = bool(values.raw("client_id"))
    if not method:
        if has_token and has_client:
            values.problems.append(
                "both an API token and an OAuth client id are set; choose one with --auth"
            )
            return ""
        method = "oauth" if has_client else "ssws"
    return str(method)


def oauth_settings(values: Values, org_url: str, timeout: float) -> OAuthSettings | None:
    # Imported here: PyJWT and cryptography cost start-up time an SSWS run need not pay.
    from pathlib import Path

    from okta_risk_output.okta.keys import load_private_key, read_private_key_file
    from okta_risk_output.okta.oauth import OAuthSettings

    problems = values.problems
    client_id = values.value("client_id")
    if not client_id:
        problems.append("OAuth needs a client id: set --client-id or OKTA_CLIENT_ID")
    key_file, key_text = values.value("private_key_file"), values.environ.get(ENV["private_key"])
    if bool(key_file) == bool(key_text):
        problems.append(
            "OAuth needs exactly one private key: --private-key-file (OKTA_PRIVATE_KEY_FILE) "
            "or OKTA_PRIVATE_KEY"
        )
        return None
    try:
        if key_file:
            key = read_private_key_file(Path(key_file), kid=values.value("key_id"))
        else:
            # keys.py reads a PEM whose newlines are escaped to fit one environment line.
            key = load_private_key(
                key_text or "", source="OKTA_PRIVATE_KEY", kid=values.value("key_id")
            )
        cache = values.value("token_cache")
        return OAuthSettings(
            org_url=org_url,
            client_id=client_id or "",
            key=key,
            scopes=values.value("scopes"),
            dpop=values.value("dpop"),
            token_cache=Path(cache) if cache else None,
            timeout=timeout,
        )
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def api_token(path: str | None, env_value: str | None, problems: list[str]) -> Secret:
    """The token from its file, else from OKTA_API_TOKEN."""
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            problems.append(f"cannot read the API token file {path}: {exc.strerror}")
            return Secret("")
        if not value:
            problems.append(f"the API token file {path} is empty")
        return _checked_token(value, f"the API token file {path}", problems)
    if env_value and env_value.strip():
        return _checked_token(env_value.strip(), "OKTA_API_TOKEN", problems)
    problems.append("the API token is missing: set OKTA_API_TOKEN or --api-token-file")
    return Secret("")


def _checked_token(value: str, where: str, problems: list[str]) -> Secret:
    """A token must be one word of visible ASCII; anything else would be refused when put in
    an HTTP header, and some libraries quote the header in their error. Never quoted here."""
    if not all("!" <= c <= "~" for c in value):
        problems.append(
            f"{where} holds more than one word of visible ASCII (a second line, a space, a "
            "control or non-ASCII character); it must hold the token alone"
        )
    return Secret(value)
