"""SMART on FHIR: fhircrm as a resource server (tokens, scopes, enforcement) and its discovery documents.

Public surface:
- ``require_access`` / ``AccessDep``: the FastAPI dependency giving each request its ``AccessContext``;
- ``install_resource_server(app, settings, http)``: the token validator and bearer error handlers;
- ``Scopes`` / ``Permission``: SMART v1 and v2 scopes and what they grant;
- ``discovery_router`` (mount under ``/fhir``) and ``security_block(settings)`` for the CapabilityStatement;
  ``publish_discovery(app, settings, http)`` at start-up (the issuer's own discovery when the URLs are not set);
- the development authorization server lives in ``fhircrm.smart.devserver``.
"""

from fhircrm.smart.context import AccessContext
from fhircrm.smart.dependency import AccessDep, bearer_token, install_resource_server, require_access
from fhircrm.smart.discovery import publish_discovery, security_block, smart_configuration
from fhircrm.smart.discovery import router as discovery_router
from fhircrm.smart.scopes import Grant, Permission, Scope, Scopes

__all__ = [
    "AccessContext",
    "AccessDep",
    "Grant",
    "Permission",
    "Scope",
    "Scopes",
    "bearer_token",
    "discovery_router",
    "install_resource_server",
    "publish_discovery",
    "require_access",
    "security_block",
    "smart_configuration",
]
