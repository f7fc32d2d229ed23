"""Who is calling and what they may do: the ``AccessContext`` every protected handler receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhircrm.smart.errors import InsufficientScope
from fhircrm.smart.scopes import Permission, Scopes, interaction_letter


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller, from a validated access token (or the development all-access context).

    ``patient`` and ``encounter`` are the launch context (token claims of the same name); ``fhir_user`` is the
    ``fhirUser`` claim (``Practitioner/123``, ...). ``roles`` are fhircrm's roles of that person, resolved from
    the store's PractitionerRoles (``fhircrm.smart.roles``), never taken from a token claim: an authorization
    server's ``roles`` speak its own vocabulary.
    """

    subject: str | None
    client_id: str | None
    scopes: Scopes
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    roles: tuple[str, ...] = ()
    jti: str | None = None
    issuer: str | None = None
    expires_at: int | None = None
    development: bool = False
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def permission(self, interaction: str, resource_type: str) -> Permission:
        return self.scopes.permission(interaction, resource_type)

    def require(self, interaction: str, resource_type: str) -> Permission:
        """The permission for this interaction, or 403 insufficient_scope if the token grants none."""
        permission = self.scopes.permission(interaction, resource_type)
        if not permission.allowed:
            letter = interaction_letter(interaction)
            raise InsufficientScope(
                f"the access token does not allow {interaction} on {resource_type}",
                needed=f"user/{resource_type}.{letter}",
            )
        if permission.unrestricted or self.patient or "patient" not in permission.contexts:
            return permission
        raise InsufficientScope(f"patient-level scopes for {resource_type} but the token has no patient context")

    @classmethod
    def development_access(cls) -> AccessContext:
        """All access, for ``auth_mode=none`` (refused in production by the settings)."""
        return cls(subject=None, client_id=None, scopes=Scopes.everything(), roles=("development",), development=True)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> AccessContext:
        """From JWT claims or an RFC 7662 introspection response (same names)."""
        scope = claims.get("scope", claims.get("scp"))
        client_id = claims.get("client_id") or claims.get("azp") or claims.get("cid")
        return cls(
            subject=_text(claims.get("sub")),
            client_id=_text(client_id),
            scopes=Scopes.parse(scope if isinstance(scope, (str, list)) else None),
            fhir_user=_text(claims.get("fhirUser")),
            patient=_text(claims.get("patient")),
            encounter=_text(claims.get("encounter")),
            jti=_text(claims.get("jti")),
            issuer=_text(claims.get("iss")),
            expires_at=claims.get("exp") if isinstance(claims.get("exp"), int) else None,
            claims=dict(claims),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
