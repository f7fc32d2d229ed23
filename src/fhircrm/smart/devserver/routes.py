"""Discovery, keys, launch contexts and client registration of the development server; ``router`` mounts all."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse, Response

from fhircrm.smart.clients import OAuthError
from fhircrm.smart.devserver.authorize import router as authorize_router
from fhircrm.smart.devserver.server import LAUNCH_SECONDS, DevAuthServer, get_dev_server
from fhircrm.smart.devserver.token import router as token_router
from fhircrm.smart.discovery import smart_configuration

router = APIRouter(tags=["development authorization server"])
ServerDep = Annotated[DevAuthServer, Depends(get_dev_server)]


@router.get("/.well-known/smart-configuration", summary="Discovery of the development server")
async def discovery(server: ServerDep) -> JSONResponse:
    document = smart_configuration(server.settings)
    issuer = server.issuer  # the dev server describes itself, whatever FHIRCRM_AUTH_* say
    document.update(
        issuer=issuer,
        jwks_uri=f"{issuer}/jwks",
        authorization_endpoint=server.authorize_url,
        token_endpoint=server.token_url,
        introspection_endpoint=f"{issuer}/introspect",
        registration_endpoint=f"{issuer}/register",
    )
    return JSONResponse(document)


@router.get("/dev.css", summary="The stylesheet of the development server's pages", include_in_schema=False)
async def stylesheet(_server: ServerDep) -> Response:
    css = (Path(__file__).parent / "dev.css").read_text()
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})


@router.get("/jwks", summary="The development server's public signing key")
async def jwks(server: ServerDep) -> JSONResponse:
    return JSONResponse(server.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.post("/launch", summary="Create a launch context (patient, encounter, fhirUser) for an EHR launch")
async def launch(server: ServerDep, context: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    values = {k: context.get(k) for k in ("patient", "encounter", "fhirUser")}
    if any(v is not None and not isinstance(v, str) for v in values.values()):
        return JSONResponse({"error": "invalid_request", "error_description": "values must be strings"}, 400)
    launch_id = server.mint("launch", server.authorize_url, LAUNCH_SECONDS, values)
    return JSONResponse({"launch": launch_id, **{k: v for k, v in values.items() if v}}, status_code=201)


@router.post("/register", summary="Register a client (RFC 7591 subset, development only)")
async def register(server: ServerDep, metadata: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    redirect_uris = metadata.get("redirect_uris") or []
    try:
        if not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris):
            raise OAuthError("invalid_redirect_uri", "redirect_uris must be a list of URLs")
        client, secret = server.register(
            client_id=metadata.get("client_id") if isinstance(metadata.get("client_id"), str) else None,
            auth_method=str(metadata.get("token_endpoint_auth_method", "none")),
            redirect_uris=tuple(redirect_uris),
            jwks=metadata.get("jwks") if isinstance(metadata.get("jwks"), dict) else None,
            jwks_url=metadata.get("jwks_uri") if isinstance(metadata.get("jwks_uri"), str) else None,
            name=str(metadata.get("client_name", "")),
        )
    except OAuthError as exc:
        return JSONResponse(exc.body(), status_code=400)
    body = client.public_view()
    if secret:
        body["client_secret"] = secret
    return JSONResponse(body, status_code=201, headers={"Cache-Control": "no-store"})


router.include_router(authorize_router)
router.include_router(token_router)
