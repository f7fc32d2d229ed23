"""Protections every route shares: request size limits (``limits``) and security headers (``headers``);
``middleware.install(app, settings)`` adds the ASGI middlewares from ``create_app``. PHI-free validation messages
(``fhircrm.redaction``) and error logs (``fhircrm.logs``) are neutral modules: the store and the job runner use them,
and neither may import a feature package."""
