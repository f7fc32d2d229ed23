"""Protections every route shares: request size limits (``limits``), security headers (``headers``), PHI-free
validation messages (``validation``) and error logs (``logs``). ``middleware.install(app, settings)`` adds the
ASGI middlewares from ``create_app``. (Nothing is imported here: ``fhircrm.fhir`` uses ``validation``.)"""
