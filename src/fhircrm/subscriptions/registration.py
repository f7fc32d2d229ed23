"""Manage our Subscriptions on the EHR: register (idempotent), list, status, delete.

Ours are recognised by their endpoint (``{listener root}/ehr/notifications/{name}``), so registering twice
creates nothing new, and deleting touches no one else's Subscriptions.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.fhir.search.dates import format_instant
from fhircrm.subscriptions import templates as tpl
from fhircrm.subscriptions import watch


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
HAPI_SEND_DELETES = "http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``register`` did with one template: created, already there, or refused (with the EHR's words)."""

    name: str
    kind: str
    action: str  # created | existing | failed | polling (the EHR takes none: the watch polls it)
    id: str = ""
    status: str = ""
    error: str = ""
    note: str = ""  # why this kind (a topic Subscription that never shook hands, a refusal polling covers)


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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the EHR's CapabilityStatement says it does with Subscriptions."""

    subscriptions: bool  # it takes Subscription resources at all
    topics: bool  # it advertises topic-based ones (SubscriptionTopic or the backport IG)
    delete_messages: bool  # it is HAPI FHIR: deletes are notified to Subscriptions that ask with its extension


def capabilities(capability: dict) -> Capabilities:
    types = {r.get("type") for rest in capability.get("rest") or [] for r in rest.get("resource") or []}
    software = str((capability.get("software") or {}).get("name") or "")
    return Capabilities(
        subscriptions="Subscription" in types or not types,  # no resource list: assume, and let the EHR answer
        topics=advertises_topics(capability),
        delete_messages=software.upper().startswith("HAPI"),
    )


async def best_kind(client: EhrClient) -> str:
    """The one kind to try first when none is asked for: topic-based where advertised, else criteria."""
    capability = await client.get("metadata") or {}
    return "topic-based" if advertises_topics(capability) else "criteria"


def _topic_for(settings: Settings, template: tpl.Template) -> dict | None:
    suffix = template.name.removeprefix("topic-")
    return next((t for t in tpl.topics(settings) if t.get("id") == f"fhircrm-topic-{suffix}"), None)


def _failure(template: tpl.Template, exc: EhrError) -> Outcome:
    words = f"{exc}: {exc.detail}" if exc.detail else str(exc)
    return Outcome(template.name, template.kind, "failed", error=words)


def with_delete_messages(body: dict) -> dict:
    """HAPI notifies a delete only to a Subscription whose ``channel`` carries its extension (HapiExtensions.
    EX_SEND_DELETE_MESSAGES, read by SubscriptionCanonicalizer); it then sends ``DELETE {endpoint}/{Type}/{id}``."""
    channel = dict(body.get("channel") or {})
    others = [e for e in channel.get("extension") or [] if e.get("url") != HAPI_SEND_DELETES]
    channel["extension"] = [*others, {"url": HAPI_SEND_DELETES, "valueBoolean": True}]
    return {**body, "channel": channel}


async def _create(client: EhrClient, settings: Settings, template: tpl.Template, caps: Capabilities) -> Outcome:
    """Create one template's Subscription; a refusal is an Outcome with the EHR's own words, never a raise."""
    try:
        topic = _topic_for(settings, template) if template.kind == "topic-based" else None
        if topic:
            await client.update(topic)
        body = tpl.render(settings, template)
        if template.kind == "criteria" and caps.delete_messages:
            body = with_delete_messages(body)
        created = await client.create(body)
    except EhrUnavailable:
        raise
    except EhrError as exc:
        return _failure(template, exc)
    if not created.get("id"):  # 404/410: the EHR has no Subscription endpoint
        return Outcome(template.name, template.kind, "failed", error="the EHR does not accept Subscriptions")
    return Outcome(template.name, template.kind, "created", created["id"], created.get("status", ""))


async def register(
    client: EhrClient,
    settings: Settings,
    *,
    kind: str | None = "auto",
    names: list[str] | None = None,
    engine: AsyncEngine | None = None,
) -> list[Outcome]:
    """Register each wanted template on its own (one refusal stops none of the others); reruns create nothing new.

    ``kind`` "auto" (the command line's default) gives each event one kind, the best the EHR proves: topic-based
    where advertised and a handshake reaches us within ``ehr_handshake_seconds``, else criteria, else polling.
    "criteria" or "topic-based" registers that kind only; None both (each EHR change then arrives twice).
    With ``engine``, what each event got is recorded for the listener and the watch (``watch.plan``).
    """
    caps = capabilities(await client.get("metadata") or {})
    existing = {r.name: r for r in await list_ours(client, settings)}
    if kind == "auto":
        out = await _register_auto(client, settings, caps, existing, names, engine)
    else:
        wanted = [t for t in tpl.templates(settings, kind) if _wanted(t, names)]
        out = []
        for template in wanted:
            if template.name in existing:
                found = existing[template.name]
                out.append(Outcome(template.name, template.kind, "existing", found.id, found.status))
            else:
                out.append(await _create(client, settings, template, caps))
    now = {r.name: r.status for r in await list_ours(client, settings)}  # the EHR may activate them on create
    out = [replace(o, status=now.get(o.name, o.status)) if o.action == "created" else o for o in out]
    if engine is not None:
        async with engine.begin() as conn:
            await watch.plan(conn, _planned(settings, out))
    return out


def _wanted(template: tpl.Template, names: list[str] | None) -> bool:
    return not names or template.name in names or watch.event_of(template.name) in names


async def _register_auto(
    client: EhrClient,
    settings: Settings,
    caps: Capabilities,
    existing: dict[str, Registered],
    names: list[str] | None,
    engine: AsyncEngine | None,
) -> list[Outcome]:
    """One kind per event: keep what already works, try topic-based where advertised, prove it, fall back."""
    by_event: dict[str, dict[str, tpl.Template]] = {}
    for template in tpl.templates(settings):
        if _wanted(template, names):
            by_event.setdefault(watch.event_of(template.name), {})[template.kind] = template
    out: dict[str, Outcome] = {}
    to_prove: dict[str, Outcome] = {}
    for event, kinds in by_event.items():
        topic, criteria = kinds.get("topic-based"), kinds.get("criteria")
        have_topic = existing.get(topic.name) if topic else None
        have_criteria = existing.get(criteria.name) if criteria else None
        if have_topic and await _is_proven(engine, topic.name, have_topic):  # type: ignore[union-attr]
            out[event] = Outcome(topic.name, "topic-based", "existing", have_topic.id, have_topic.status)  # type: ignore[union-attr]
            if have_criteria:  # never both for one event
                await client.delete("Subscription", have_criteria.id)
        elif have_criteria:
            out[event] = Outcome(criteria.name, "criteria", "existing", have_criteria.id, have_criteria.status)  # type: ignore[union-attr]
            if have_topic:
                await client.delete("Subscription", have_topic.id)
        elif have_topic:
            to_prove[event] = Outcome(topic.name, "topic-based", "existing", have_topic.id, have_topic.status)  # type: ignore[union-attr]
        elif topic and caps.topics and caps.subscriptions:
            created = await _create(client, settings, topic, caps)
            if created.action == "created":
                to_prove[event] = created
        if event not in out and event not in to_prove:
            out[event] = await _criteria_or_polling(client, settings, caps, criteria, event)
    unproven = await _await_handshakes(client, settings, engine, to_prove)
    for event, outcome in to_prove.items():
        if event not in unproven:
            out[event] = outcome
            continue
        await client.delete("Subscription", outcome.id)  # active but silent: worse than none
        fallback = await _criteria_or_polling(client, settings, caps, by_event[event].get("criteria"), event)
        why = f"no handshake for {outcome.name} within {settings.ehr_handshake_seconds:g}s: removed"
        out[event] = replace(fallback, note="; ".join(filter(None, [why, fallback.note])))
    return [out[e] for e in by_event]


async def _criteria_or_polling(
    client: EhrClient, settings: Settings, caps: Capabilities, criteria: tpl.Template | None, event: str
) -> Outcome:
    if criteria is None or not caps.subscriptions:
        return Outcome(f"polling-{event}", "polling", "polling", note="the EHR takes no Subscription for it")
    created = await _create(client, settings, criteria, caps)
    if created.action == "failed":
        return replace(created, note=f"polling covers {event} until it is fixed")
    return created


async def _is_proven(engine: AsyncEngine | None, name: str, found: Registered) -> bool:
    if engine is None:
        return found.status == "active"
    async with engine.connect() as conn:
        return await watch.proven(conn, name, found.id)


async def _await_handshakes(
    client: EhrClient, settings: Settings, engine: AsyncEngine | None, pending: dict[str, Outcome]
) -> set[str]:
    """The events whose topic Subscription sent no handshake (recorded by the listener) within the deadline.

    Without a database to read the listener's record from, the EHR's own ``status: active`` stands in."""
    waiting = dict(pending)
    deadline = time.monotonic() + settings.ehr_handshake_seconds
    while waiting:
        for event, outcome in list(waiting.items()):
            found = Registered(outcome.name, outcome.id, "", "")
            if engine is None:
                sub = await client.read("Subscription", outcome.id) or {}
                found = Registered(outcome.name, outcome.id, sub.get("status", ""), "")
            if await _is_proven(engine, outcome.name, found):
                del waiting[event]
        if not waiting or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    return set(waiting)


def _planned(settings: Settings, outcomes: list[Outcome]) -> list[watch.Planned]:
    out = []
    for o in outcomes:
        if o.action == "failed":
            event = watch.event_of(o.name)
            o = replace(o, name=f"polling-{event}", kind="polling", id="")
        template = tpl.by_name(settings, o.name) or tpl.by_name(settings, f"criteria-{watch.event_of(o.name)}")
        if template is None:
            continue
        criteria_template = tpl.by_name(settings, f"criteria-{watch.event_of(o.name)}")
        search = criteria_template.body.get("criteria") if criteria_template else None
        heartbeat = None
        if o.kind == "topic-based":
            for ext in (template.body.get("channel") or {}).get("extension") or []:
                if ext.get("url", "").endswith("backport-heartbeat-period"):
                    heartbeat = int(ext.get("valueUnsignedInt") or 0) or None
        out.append(
            watch.Planned(
                name=o.name,
                event=watch.event_of(o.name),
                kind=o.kind,
                resource_type=template.resource_type,
                criteria=search,
                ehr_subscription=f"Subscription/{o.id}" if o.id else None,
                heartbeat_seconds=heartbeat,
            )
        )
    return out


async def status(client: EhrClient, settings: Settings, *, engine: AsyncEngine | None = None) -> list[dict]:
    """Each of ours with the EHR's view (status, error, ``$status`` where offered) and, with ``engine``, ours:
    the kind each event got, when we last heard from it, and the watch's flag; events left to polling too."""
    local = {}
    if engine is not None:
        async with engine.connect() as conn:
            local = {r.name: r for r in await watch.rows(conn)}
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
        out.append({**row, **_local(local.pop(reg.name, None))})
    for name, watched in local.items():
        if watched.kind == "polling":
            out.append({"name": name, "id": "", "status": "polling", **_local(watched)})
    return out


def _local(row: object) -> dict:
    if row is None:
        return {}
    out = {"heard": format_instant(row.last_heard_at) if row.last_heard_at else "never"}  # type: ignore[attr-defined]
    if row.kind == "topic-based":  # type: ignore[attr-defined]
        out["handshake"] = format_instant(row.handshake_at) if row.handshake_at else "none"  # type: ignore[attr-defined]
    if row.flagged_at:  # type: ignore[attr-defined]
        out["flagged"] = row.flag_reason  # type: ignore[attr-defined]
    return out


async def delete(
    client: EhrClient, settings: Settings, *, names: list[str] | None = None, engine: AsyncEngine | None = None
) -> list[str]:
    removed = []
    for reg in await list_ours(client, settings):
        if not names or reg.name in names:
            await client.delete("Subscription", reg.id)
            removed.append(reg.name)
    if engine is not None and removed:
        async with engine.begin() as conn:
            await watch.forget(conn, removed)
    return removed
