"""fhircrm as a SMART App Launch 2.x client: EHR launch (``iss`` + ``launch``) and standalone launch.

Discovery through ``.well-known/smart-configuration``, the authorization-code grant with PKCE S256, ``state``
and ``aud`` checked, refresh tokens. Tokens stay server-side in ``smartapp_session`` rows; the browser holds only
an opaque, HttpOnly session cookie. ``fhircrm.smartapp.guard.current_session`` is the dependency the UI uses.
"""
