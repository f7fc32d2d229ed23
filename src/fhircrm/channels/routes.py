"""Every channel webhook under ``/channels``: each provider's own (from the provider list), forms and e-mail."""

from __future__ import annotations

from fastapi import APIRouter

from fhircrm.channels import webhooks_web
from fhircrm.channels.providers import routers
from fhircrm.config import Settings


def router_for(settings: Settings) -> APIRouter:
    """One router for app.py to include: the settings decide which added providers have webhooks."""
    router = APIRouter()
    for provider_router in routers(settings):
        router.include_router(provider_router)
    router.include_router(webhooks_web.router)
    return router
