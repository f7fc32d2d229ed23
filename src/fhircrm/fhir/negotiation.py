"""What comes in and what goes out: bodies, formats, Prefer, base URLs."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from fastapi import Request

from fhircrm.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from fhircrm.fhir.inputs import check_body_depth

JSON_TYPES = ("application/fhir+json", "application/json", "application/json-patch+json", "text/json")
XML_HINTS = ("xml",)


def base_url(request: Request) -> str:
    """The FHIR base as the client addressed it (behind a proxy, uvicorn's --proxy-headers sets it)."""
    return str(request.base_url).rstrip("/") + "/fhir"


def check_format(request: Request) -> None:
    """JSON only: XML (asked by _format or Accept) answers 415 with an OperationOutcome."""
    fmt = request.query_params.get("_format")
    if fmt and fmt not in ("json", *JSON_TYPES):
        raise UnsupportedMediaType(f"_format {fmt[:40]!r} is not supported; use json")
    accept = request.headers.get("accept", "")
    if accept and any(h in accept for h in XML_HINTS) and not any(t in accept for t in (*JSON_TYPES, "*/*")):
        raise UnsupportedMediaType("only application/fhir+json is served")


async def read_json(request: Request, *, max_bytes: int) -> object:
    content_type = request.headers.get("content-type", "application/fhir+json").split(";")[0].strip()
    if content_type and content_type not in JSON_TYPES:
        raise UnsupportedMediaType(f"unsupported content type {content_type[:60]!r}; send application/fhir+json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    if not body:
        raise BadRequest("the request has no body")
    try:
        parsed = orjson.loads(bytes(body))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at position {exc.pos}") from None
    check_body_depth(parsed)  # 422 before any validator recurses into it
    return parsed


async def read_resource(request: Request, *, max_bytes: int) -> dict:
    body = await read_json(request, max_bytes=max_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise BadRequest("the body must be a FHIR resource with a resourceType", expression="resourceType")
    return body


@dataclass(frozen=True, slots=True)
class Prefer:
    ret: str = "representation"  # minimal | representation | OperationOutcome
    strict: bool = False

    @classmethod
    def of(cls, request: Request) -> Prefer:
        ret, strict = "representation", False
        for part in request.headers.get("prefer", "").split(";"):
            for item in part.split(","):
                key, _, value = item.strip().partition("=")
                value = value.strip('"')
                if key == "return" and value in ("minimal", "representation", "OperationOutcome"):
                    ret = value
                elif key == "handling":
                    strict = value == "strict"
        return cls(ret, strict)
