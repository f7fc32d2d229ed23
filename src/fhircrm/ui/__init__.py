"""The coordinators' workspace and the SMART app's screens: server-rendered pages under ``/ui``.

Routes call services and the store (never SQL); templates and static files live in the top-level ``smart_app/``.
"""
