"""Every channel webhook under ``/channels``: one router for app.py to include."""

from __future__ import annotations

from fastapi import APIRouter

from fhircrm.channels import webchat_routes, webhooks_meta, webhooks_twilio, webhooks_voice, webhooks_web

router = APIRouter()
router.include_router(webhooks_twilio.router)
router.include_router(webhooks_meta.router)
router.include_router(webhooks_web.router)
router.include_router(webchat_routes.router)
router.include_router(webhooks_voice.router)
