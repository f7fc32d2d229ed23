"""``/api/segments``: add a segment without a deploy (POST a definition), list, refresh, read members."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.clock import current_time
from fhircrm.deps import StoreDep
from fhircrm.errors import BadRequest, NotFound, Unprocessable
from fhircrm.segments.groups import active_members, all_segments, find_segment, save_definition
from fhircrm.segments.refresh import refresh_group
from fhircrm.segments.rules import RuleError, parse_rule

router = APIRouter(prefix="/api/segments", tags=["segments"])


def _summary(group: dict) -> dict:
    return {
        "id": group["identifier"][0]["value"],
        "group": f"Group/{group['id']}",
        "title": group.get("name"),
        "members": len(active_members(group)),
    }


@router.post("", status_code=201)
async def create_segment(request: Request, store: StoreDep) -> dict:
    """Body: a definition as JSON or YAML. The Group is created (or its rule replaced) and filled at once."""
    raw = (await request.body()).decode("utf-8", "replace")
    if not raw.strip():
        raise BadRequest("the body is a segment definition (JSON or YAML)")
    try:
        rule = parse_rule(raw)
    except RuleError as exc:
        raise Unprocessable(str(exc)) from exc
    group = await save_definition(store, rule)
    await refresh_group(store, group, current_time(request.app.state.settings))
    return _summary(group)


@router.get("")
async def list_segments(store: StoreDep) -> list[dict]:
    return [_summary(g) for g in await all_segments(store)]


@router.get("/{segment}/members")
async def segment_members(segment: str, store: StoreDep) -> dict:
    group = await find_segment(store, segment)
    if group is None:
        raise NotFound(f"no segment {segment}")
    return {**_summary(group), "patients": [f"Patient/{p}" for p in active_members(group)]}


@router.post("/{segment}/refresh")
async def refresh(segment: str, request: Request, store: StoreDep) -> dict:
    group = await find_segment(store, segment)
    if group is None:
        raise NotFound(f"no segment {segment}")
    await refresh_group(store, group, current_time(request.app.state.settings))
    return _summary(group)
