"""Manage our Subscriptions on the EHR: register (idempotent), list, status, delete.

Ours are recognised by their endpoint (``{listener root}/ehr/notifications/{name}``), so registering twice
creates nothing new, and deleting touches no one else's Subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.subscriptions import templates as tpl


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    id: str
    status: str
    criteria: str


def _name_of(settings: Settings, sub: dict) -> str | None:
    endpoint = (sub.get("channel") or {}).get("endpoint") or ""
    prefix = tpl.endpoint_for(settings, "")
    return endpoint[len(prefix) :] if endpoint.startswith(prefix) else None


async def list_ours(client: EhrClient, settings: Settings) -> list[Registered]:
    found = await client.search("Subscription", [("_count", "200")])
    out = []
    for sub in found:
        name = _name_of(settings, sub)
        if name:
            out.append(Registered(name, sub["id"], sub.get("status", ""), sub.get("criteria", "")))
    return sorted(out, key=lambda r: r.name)


async def register(
    client: EhrClient, settings: Settings, *, kind: str | None = None, names: list[str] | None = None
) -> list[Registered]:
    """Create the topics (for topic-based) and the Subscriptions not yet registered; returns all of ours."""
    wanted = [t for t in tpl.templates(settings, kind) if not names or t.name in names]
    if any(t.kind == "topic-based" for t in wanted):
        for topic in tpl.topics(settings):
            await client.update(topic)
    existing = {r.name for r in await list_ours(client, settings)}
    for template in wanted:
        if template.name not in existing:
            await client.create(tpl.render(settings, template))
    return await list_ours(client, settings)


async def status(client: EhrClient, settings: Settings) -> list[dict]:
    """Each of ours with the EHR's view: status, error, and ``$status`` where the EHR offers it."""
    out = []
    for reg in await list_ours(client, settings):
        row = {"name": reg.name, "id": reg.id, "status": reg.status, "criteria": reg.criteria}
        sub = await client.read("Subscription", reg.id) or {}
        if sub.get("error"):
            row["error"] = sub["error"]
        try:
            bundle = await client.get(f"Subscription/{reg.id}/$status") or {}
        except Exception:  # $status is optional (R4 servers without the backport IG)
            bundle = {}
        for entry in bundle.get("entry", []):
            for p in entry.get("resource", {}).get("parameter", []):
                if p.get("name") == "events-since-subscription-start":
                    row["events_since_start"] = p.get("valueString") or p.get("valueInteger64")
        out.append(row)
    return out


async def delete(client: EhrClient, settings: Settings, *, names: list[str] | None = None) -> list[str]:
    removed = []
    for reg in await list_ours(client, settings):
        if not names or reg.name in names:
            await client.delete("Subscription", reg.id)
            removed.append(reg.name)
    return removed
