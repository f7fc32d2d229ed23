"""The registered JWT claims checks (RFC 7519 section 4.1), shared by access tokens and client assertions.

Pure functions on a claims dict and "now"; each refusal says which claim failed (never its value, which
could identify a patient).
"""

from __future__ import annotations

from typing import Any

from fhircrm.smart.errors import InvalidToken


def check_issuer(claims: dict[str, Any], issuer: str | None, *, error: type[Exception] = InvalidToken) -> None:
    if issuer is not None and claims.get("iss") != issuer:
        raise error("the token was issued by another authorization server (iss)")


def check_audience(claims: dict[str, Any], audience: str, *, error: type[Exception] = InvalidToken) -> None:
    """``aud`` may be one string or a list; a trailing slash is not a different audience."""
    aud = claims.get("aud")
    values = aud if isinstance(aud, list) else [aud]
    wanted = audience.rstrip("/")
    if not any(isinstance(v, str) and v.rstrip("/") == wanted for v in values):
        raise error("the token is meant for another resource server (aud)")


def check_times(
    claims: dict[str, Any],
    *,
    now: float,
    leeway: float,
    require_exp: bool = True,
    max_lifetime: float | None = None,
    error: type[Exception] = InvalidToken,
) -> None:
    """exp (required by default), nbf and iat, each with ``leeway`` seconds of clock skew."""
    exp = claims.get("exp")
    if exp is None:
        if require_exp:
            raise error("the token has no expiry (exp)")
    elif not _number(exp):
        raise error("the token's exp is not a number")
    elif now > exp + leeway:
        raise error("the token has expired (exp)")
    elif max_lifetime is not None and exp > now + max_lifetime + leeway:
        raise error("the token expires too far in the future (exp)")
    nbf = claims.get("nbf")
    if nbf is not None and (not _number(nbf) or now < nbf - leeway):
        raise error("the token is not valid yet (nbf)")
    iat = claims.get("iat")
    if iat is not None and (not _number(iat) or now < iat - leeway):
        raise error("the token was issued in the future (iat)")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
