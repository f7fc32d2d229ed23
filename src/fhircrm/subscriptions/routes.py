"""Every HTTP route of the subscriptions package: the EHR listener and the operations on our Subscriptions."""

from __future__ import annotations

from fastapi import APIRouter

from fhircrm.subscriptions import listener_routes, operations

router = APIRouter()
router.include_router(listener_routes.router)
router.include_router(operations.router)
