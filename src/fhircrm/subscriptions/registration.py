"""Manage our Subscriptions on the EHR: register (idempotent), list, status, delete.

Ours are recognised by their endpoint (``{listener root}/ehr/notifications/{name}``), so registering twice
creates nothing new, and deleting touches no one else's Subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrError
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


BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``register`` did with one template: created, already there, or refused (with the EHR's words)."""

    name: str
    kind: str
    action: str  # created | existing | failed
    id: str = ""
    status: str = ""
    error: str = ""


def advertises_topics(capability: dict) -> bool:
    """Whether a CapabilityStatement promises topic-based Subscriptions (SubscriptionTopic or the backport IG)."""
    for rest in capability.get("rest") or []:
        for res in rest.get("resource") or []:
            if res.get("type") == "SubscriptionTopic":
                return True
            if res.get("type") != "Subscription":
                continue
            profiles = res.get("supportedProfile") or []
            extensions = [e.get("url", "") for e in res.get("extension") or []]
            if any(p.startswith(BACKPORT) for p in profiles + extensions):
                return True
    return any(str(c).startswith(BACKPORT) for c in capability.get("instantiates") or [])


async def best_kind(client: EhrClient) -> str:
    """The one kind to register when none is asked for: topic-based where advertised, else criteria."""
    capability = await client.get("metadata") or {}
    return "topic-based" if advertises_topics(capability) else "criteria"


def _topic_for(settings: Settings, template: tpl.Template) -> dict | None:
    suffix = template.name.removeprefix("topic-")
    return next((t for t in tpl.topics(settings) if t.get("id") == f"fhircrm-topic-{suffix}"), None)


def _failure(template: tpl.Template, exc: EhrError) -> Outcome:
    words = f"{exc}: {exc.detail}" if exc.detail else str(exc)
    return Outcome(template.name, template.kind, "failed", error=words)


async def register(
    client: EhrClient, settings: Settings, *, kind: str | None = None, names: list[str] | None = None
) -> list[Outcome]:
    """Register each wanted template on its own (one refusal stops none of the others); reruns create nothing new.

    ``kind`` None means both kinds; the command line asks ``best_kind`` first, so one EHR change arrives once.
    """
    wanted = [t for t in tpl.templates(settings, kind) if not names or t.name in names]
    existing = {r.name: r for r in await list_ours(client, settings)}
    out = []
    for template in wanted:
        if template.name in existing:
            found = existing[template.name]
            out.append(Outcome(template.name, template.kind, "existing", found.id, found.status))
            continue
        try:
            topic = _topic_for(settings, template) if template.kind == "topic-based" else None
            if topic:
                await client.update(topic)
            created = await client.create(tpl.render(settings, template))
        except EhrError as exc:
            out.append(_failure(template, exc))
            continue
        if not created.get("id"):  # 404/410: the EHR has no Subscription endpoint
            out.append(Outcome(template.name, template.kind, "failed", error="the EHR does not accept Subscriptions"))
            continue
        out.append(Outcome(template.name, template.kind, "created", created["id"], created.get("status", "")))
    now = {r.name: r.status for r in await list_ours(client, settings)}  # the EHR may activate them on create
    return [replace(o, status=now.get(o.name, o.status)) if o.action == "created" else o for o in out]


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
