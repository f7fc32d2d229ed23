"""Bearer-token errors: fhircrm.errors subclasses that also carry the ``WWW-Authenticate`` challenge.

RFC 6750 section 3 says how a resource server answers:

* no credentials at all (no ``Authorization`` header, or another scheme): ``401`` with
  ``WWW-Authenticate: Bearer realm="fhircrm"`` and no error code, so the client knows it should get a token;
* a token that is expired, revoked, malformed, not signed by the trusted issuer, or meant for another audience:
  ``401`` with ``error="invalid_token"`` and an ``error_description`` (the reason, never the token or PHI);
* a malformed request (``Bearer`` without a token, or a token with characters outside ``b64token``): ``400`` with
  ``error="invalid_request"``;
* a valid token whose scopes do not grant the interaction: ``403`` with ``error="insufficient_scope"`` and the
  ``scope`` attribute naming what would be needed.

Under ``/fhir`` the body is the usual OperationOutcome; ``fhircrm.fhir.outcomes.error_response`` sends each
error's ``headers`` with it.
"""

from __future__ import annotations

from fhircrm.errors import BadRequest, FhircrmError, Forbidden, Unauthorized

REALM = "fhircrm"


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'").replace("\\", "/")))
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


class MissingToken(Unauthorized):
    """No bearer credentials: the client should obtain a token (no error code, per RFC 6750 3.1)."""

    def __init__(self, diagnostics: str = "an access token is required (Authorization: Bearer ...)"):
        super().__init__(diagnostics)
        self.headers = {"WWW-Authenticate": _challenge()}


class InvalidToken(Unauthorized):
    """The token was presented but cannot be trusted now: the client should get a new one."""

    def __init__(self, diagnostics: str):
        super().__init__(f"invalid access token: {diagnostics}")
        self.headers = {"WWW-Authenticate": _challenge("invalid_token", diagnostics)}


class InvalidBearerRequest(BadRequest):
    """The Authorization header is malformed."""

    def __init__(self, diagnostics: str):
        super().__init__(diagnostics)
        self.headers = {"WWW-Authenticate": _challenge("invalid_request", diagnostics)}


class InsufficientScope(Forbidden):
    """A valid token whose scopes do not grant this interaction."""

    def __init__(self, diagnostics: str, *, needed: str | None = None):
        super().__init__(diagnostics)
        self.headers = {"WWW-Authenticate": _challenge("insufficient_scope", diagnostics, needed)}


class AuthServerUnavailable(FhircrmError):
    """The issuer's JWKS or introspection endpoint cannot be reached: not the client's fault, so 503."""

    status, code = 503, "transient"

    def __init__(self, diagnostics: str):
        super().__init__(diagnostics)
        self.headers = {"Retry-After": "5"}
