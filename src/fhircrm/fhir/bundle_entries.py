"""Entries of a transaction or batch Bundle: what each asks for, and how each is answered.

Parsing checks the shape of every entry before anything runs, so a malformed bundle is refused whole with the
entry named (``Bundle.entry[3].request.url``). Errors raised while an entry runs are re-pointed at that entry.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import orjson

from fhircrm.errors import BadRequest, FhircrmError, Issue, PayloadTooLarge
from fhircrm.fhir.outcomes import information, operation_outcome
from fhircrm.fhir.search.dates import format_instant
from fhircrm.fhir.store import Outcome

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
BUNDLE_TYPES = {"transaction": "transaction-response", "batch": "batch-response"}
PATCH_TYPES = ("application/json-patch+json", "application/json")


@dataclass(slots=True)
class Entry:
    """One request of the bundle, with its URL taken apart."""

    index: int
    method: str
    url: str
    resource_type: str
    fhir_id: str | None = None
    version: str | None = None  # GET Type/id/_history/v
    criteria: str | None = None  # the query of a conditional or search URL
    resource: dict | None = None
    patch: list | None = None
    full_url: str | None = None
    if_none_exist: str | None = None
    if_match: str | None = None

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"


def parse_bundle(bundle: dict, *, max_entries: int) -> tuple[str, list[Entry]]:
    """The bundle type (transaction or batch) and its parsed entries; 400 or 413 when it cannot run."""
    kind = bundle.get("type")
    if kind not in BUNDLE_TYPES:
        raise BadRequest(
            f"POST /fhir takes a transaction or batch Bundle, not {str(kind)[:30]!r}", expression="Bundle.type"
        )
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise BadRequest("Bundle.entry must be a list", expression="Bundle.entry")
    if len(raw) > max_entries:
        raise PayloadTooLarge(f"the bundle has {len(raw)} entries; at most {max_entries} are accepted")
    return kind, [parse_entry(i, item) for i, item in enumerate(raw)]


def parse_entry(index: int, item: object) -> Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object", expression=where)
    request = item.get("request")
    if not isinstance(request, dict):
        raise BadRequest(f"{where} has no request", expression=f"{where}.request")
    method = request.get("method")
    if method not in METHODS:
        raise BadRequest(f"{where}.request.method must be one of {', '.join(METHODS)}", expression=f"{where}.request")
    url = request.get("url")
    if not isinstance(url, str) or not url.strip():
        raise BadRequest(f"{where}.request.url is missing", expression=f"{where}.request.url")
    entry = _parse_url(index, "GET" if method == "HEAD" else method, url.strip())
    entry.full_url = item.get("fullUrl") if isinstance(item.get("fullUrl"), str) else None
    entry.if_none_exist = request.get("ifNoneExist") or None
    entry.if_match = request.get("ifMatch") or None
    resource = item.get("resource")
    if entry.method in ("POST", "PUT"):
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest(f"{where} needs a resource for {entry.method}", expression=f"{where}.resource")
        if resource["resourceType"] != entry.resource_type:
            raise BadRequest(
                f"{where}: resourceType {resource['resourceType']!r} does not match the URL's {entry.resource_type}",
                expression=f"{where}.resource.resourceType",
            )
        entry.resource = resource
    elif entry.method == "PATCH":
        entry.patch = _patch_document(where, resource)
    if entry.method in ("PUT", "PATCH", "DELETE") and not (entry.fhir_id or entry.criteria):
        raise BadRequest(f"{where}: {entry.method} needs an id or search criteria", expression=f"{where}.request.url")
    if entry.method == "POST" and entry.fhir_id:
        raise BadRequest(f"{where}: POST goes to the type, not an instance", expression=f"{where}.request.url")
    return entry


def _parse_url(index: int, method: str, url: str) -> Entry:
    where = f"Bundle.entry[{index}].request.url"
    parts = urlsplit(url)
    if parts.scheme:  # an absolute URL on this server: keep what follows /fhir/
        path = parts.path.split("/fhir/", 1)[-1] if "/fhir/" in parts.path else ""
        if not path:
            raise BadRequest(f"request url {url[:80]!r} is not on this server", expression=where)
    else:
        path = parts.path
    segments = [s for s in path.strip("/").split("/") if s]
    criteria = parts.query or None
    if not segments:
        raise BadRequest("request url names no resource type", expression=where)
    entry = Entry(index, method, url, segments[0], criteria=criteria)
    if len(segments) == 2 and segments[1] == "_search" and method == "GET":
        return entry
    if len(segments) >= 2:
        entry.fhir_id = segments[1]
    if len(segments) == 4 and segments[2] == "_history" and method == "GET":
        entry.version = segments[3]
    elif len(segments) > 2:
        raise BadRequest(f"request url {url[:80]!r} is not supported in a bundle", expression=where)
    if entry.fhir_id and criteria and method != "GET":
        raise BadRequest("a request url has either an id or search criteria", expression=where)
    return entry


def _patch_document(where: str, resource: object) -> list:
    """A PATCH entry carries its JSON Patch as a Binary (base64 data, contentType application/json-patch+json)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        raise BadRequest(f"{where}: a PATCH entry carries a Binary with a JSON Patch", expression=f"{where}.resource")
    if resource.get("contentType", "").split(";")[0].strip() not in PATCH_TYPES:
        raise BadRequest(
            f"{where}: only JSON Patch (application/json-patch+json) is supported",
            expression=f"{where}.resource.contentType",
        )
    try:
        patch = orjson.loads(base64.b64decode(resource.get("data", ""), validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadRequest(f"{where}: the Binary data is not base64 JSON", expression=f"{where}.resource.data") from None
    if not isinstance(patch, list):
        raise BadRequest(f"{where}: a JSON Patch is a list of operations", expression=f"{where}.resource.data")
    return patch


# --- answers ---------------------------------------------------------------------------------------------------


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def write_entry(outcome: Outcome, *, base: str, ret: str) -> dict:
    """The response entry of a write: status, location, etag, lastModified and (unless minimal) the resource."""
    response: dict = {"status": status_line(outcome.status)}
    item: dict = {}
    if outcome.version:
        response["etag"] = outcome.etag
        response["lastModified"] = format_instant(outcome.last_updated)
    if outcome.content is not None:
        item["fullUrl"] = f"{base}/{outcome.resource_type}/{outcome.fhir_id}"
        response["location"] = outcome.location
        if ret == "representation":
            item["resource"] = outcome.content
        elif ret == "OperationOutcome":
            response["outcome"] = information(status_line(outcome.status))
    item["response"] = response
    return item


def read_entry(resource: dict, *, status: int = 200, etag: str | None = None, last_modified: str | None = None) -> dict:
    response: dict = {"status": status_line(status)}
    if etag:
        response["etag"] = etag
    if last_modified:
        response["lastModified"] = last_modified
    return {"resource": resource, "response": response}


def error_entry(error: FhircrmError) -> dict:
    return {"response": {"status": status_line(error.status), "outcome": operation_outcome(error.issues)}}


def at_entry(error: FhircrmError, entry: Entry) -> FhircrmError:
    """The same error, its issues pointing into the entry (``Patient.birthDate`` -> ``...resource.birthDate``)."""
    issues = [
        Issue(
            f"{entry.where}: {issue.diagnostics}",
            issue.code,
            issue.severity,
            tuple(_point(e, entry) for e in issue.expression) or (entry.where,),
        )
        for issue in error.issues
    ]
    moved = type(error)(f"{entry.where}: {error.diagnostics}", issues=issues)
    moved.__cause__ = error.__cause__
    return moved


def _point(expression: str, entry: Entry) -> str:
    if expression.startswith("Bundle."):
        return expression
    resource = f"{entry.where}.resource"
    if expression == entry.resource_type or expression == "resourceType":
        return resource if expression == entry.resource_type else f"{resource}.resourceType"
    if expression.startswith(f"{entry.resource_type}.") or expression.startswith(f"{entry.resource_type}["):
        return resource + expression[len(entry.resource_type) :]
    if expression == "If-Match":
        return f"{entry.where}.request.ifMatch"
    return entry.where
