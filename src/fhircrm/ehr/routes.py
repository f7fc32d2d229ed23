"""``GET /ehr/.well-known/jwks.json``: our public key(s), registered at the EHR for SMART Backend Services."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fhircrm.config import Settings
from fhircrm.ehr.keys import load_or_create_key, public_jwks

router = APIRouter()


@router.get("/ehr/.well-known/jwks.json", tags=["EHR"], summary="fhircrm's public keys (JWKS)")
async def jwks(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    key = load_or_create_key(settings.ehr_key_file, settings.ehr_key_alg)
    return JSONResponse(public_jwks(key), headers={"Cache-Control": "public, max-age=300"})
