"""Talking to Okta: the HTTP client, the credentials it sends, and reading the answers.

    client.py        `ApiClient` (what delivery asks of a client) and `OktaClient`, which POSTs
    dry_run.py       `DryRunClient`, an ApiClient that prints the bodies instead (run --dry-run)
    session.py       `new_session()`, where every requests.Session comes from (our User-Agent,
                     the watchdog), and `bounded_request()`, how every request is made
    deadline.py      the watchdog that bounds a whole request, not just each read
    answers.py       reading an answer safely: a bounded body, JSON that never raises, headers
    secret.py        `Secret`, a credential that never shows in a repr, log line or error
    auth.py          the credentials: SSWS, OAuth (Bearer or DPoP) through a `TokenSource`
    oauth.py         `TokenClient`: OAuth client credentials, renewal, DPoP switch-over
    assertion.py     the client assertion (private_key_jwt) a token request is signed with
    oauth_errors.py  what the token endpoint's refusals mean (exit status and hint)
    dpop.py          DPoP proofs and nonces
    keys.py          signing keys (PEM or JWK) and JWK helpers
    token_cache.py   the 0600 file that keeps a token between short runs

May import the kernel modules (errors, clock, depth, ...) and observe, nothing else of the
program: not delivery, config or cli (above it), intake (beside it), nor spool (talking to
Okta needs no store). Importing this package imports none of its modules. oauth.py, assertion.py,
dpop.py and keys.py load PyJWT and cryptography: the rest must not import them, so that an
SSWS run never loads either.
"""
