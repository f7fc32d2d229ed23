"""The subscriptions package's HTTP routes outside ``/fhir``: the EHR listener. The operations on our
Subscriptions (``fhircrm.subscriptions.operations``) are mounted under ``/fhir`` with the other $operations."""

from __future__ import annotations

from fastapi import APIRouter

from fhircrm.subscriptions import listener_routes

router = APIRouter()
router.include_router(listener_routes.router)
