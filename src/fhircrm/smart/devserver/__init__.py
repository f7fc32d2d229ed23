"""The development authorization server (SMART App Launch 2.x, Backend Services): for development and demos only.

Mount ``router`` at ``/auth`` (the default issuer is the FHIR base with ``/fhir`` replaced by ``/auth``). Every
route answers 404 unless ``FHIRCRM_DEV_AUTH_ENABLED=true``; the settings refuse that in production.
"""

from fhircrm.smart.devserver.routes import router
from fhircrm.smart.devserver.server import DevAuthServer, get_dev_server
from fhircrm.smart.devserver.token import pkce_challenge

__all__ = ["DevAuthServer", "get_dev_server", "pkce_challenge", "router"]
