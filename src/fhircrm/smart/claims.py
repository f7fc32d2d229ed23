"""The registered JWT claims checks (RFC 7519 section 4.1), shared by access tokens and client assertions.

Pure functions on a claims dict and "now"; each refusal says which claim failed (never its value, which
could identify a patient).
"""

from __future__ import annotations

from typing import Any

from fhircrm.errors import Forbidden
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


#: claims and header fields that authorization servers use to say what kind of token a JWT is
_KIND_CLAIMS = ("token_use", "use", "typ", "token_type")


def check_access_token(
    header: dict[str, Any], claims: dict[str, Any], *, error: type[Exception] = InvalidToken
) -> None:
    """A token that says it is a refresh token (``token_use``/``use``/``typ``/``token_type`` claims, or a ``typ``
    header such as ``refresh+jwt``) is not an access token, whatever its signature: refresh tokens live longer
    and are exchanged at the token endpoint, never presented to a resource server."""
    kinds = [claims.get(name) for name in _KIND_CLAIMS] + [header.get("typ")]
    if any(isinstance(kind, str) and "refresh" in kind.lower() for kind in kinds):
        raise error("a refresh token is not an access token (token_use/typ)")


def check_fhir_user(fhir_user: str | None, bases: tuple[str | None, ...]) -> None:
    """``fhirUser`` must name a person of this server (a relative ``Practitioner/x`` or an absolute URL under its
    base) or of the configured EHR. A URL under any other base is another server's person: mapping it to the
    local resource with the same id would hand that id's roles and patients to a stranger, so it is 403."""
    if not fhir_user or "://" not in fhir_user:
        return
    for base in bases:
        if base and fhir_user.startswith(base.rstrip("/") + "/"):
            return
    raise Forbidden("the token's fhirUser is not on this server's FHIR base or the configured EHR's")
