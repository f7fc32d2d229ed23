"""Whose eyes a Subscription sees through: the access of whoever wrote it, recorded with it and replayed at
every delivery.

Matching runs at write time on fhircrm's own unscoped store (it must see every change), so what a notification
may carry is decided when it is delivered: the owner's ``SmartPolicy`` is rebuilt from the recorded token (its
raw scopes, launch patient and ``fhirUser``) with the person's roles resolved again from today's
PractitionerRoles, exactly as a request would, and the focus is read through it. A token's access is recorded,
not trusted forever: a clinician who lost their roles, or an owner whose Practitioner or launch Patient is gone,
gets nothing.

Writes through the API record their caller as owner (an update replaces it: the Subscription now serves the
one who changed it); fhircrm's own writes (development access, internal services, the worker's status
changes) record the ``service`` owner only when none is recorded yet, so a status change never takes a
Subscription over. A Subscription with no owner row at all (written before owners were recorded) gets nothing
until someone with access updates it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.errors import FhircrmError, Forbidden, Gone, NotFound
from fhircrm.fhir.access import AccessPolicy, ServiceScope
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs.queue import utcnow
from fhircrm.smart.context import AccessContext
from fhircrm.smart.policy import SmartPolicy
from fhircrm.smart.roles import applies, local_reference, resolve_staff
from fhircrm.smart.scopes import Scopes
from fhircrm.subscriptions.tables import subscription_owner


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    """The recorded access of a Subscription's writer (what a token said, never what it could reach then)."""

    kind: str  # patient | user | system (a token's grants), service (fhircrm itself)
    scopes: str
    subject: str | None = None
    client_id: str | None = None
    fhir_user: str | None = None
    patient: str | None = None
    issuer: str | None = None

    @property
    def who(self) -> str | None:
        """For audit records: the person, else the token's subject."""
        return self.fhir_user or self.subject

    def access(self) -> AccessContext:
        return AccessContext(
            subject=self.subject,
            client_id=self.client_id,
            scopes=Scopes.parse(self.scopes),
            fhir_user=self.fhir_user,
            patient=self.patient,
            issuer=self.issuer,
        )


SERVICE = Owner(kind="service", scopes="system/*.cruds", client_id="fhircrm")
#: fhircrm's own lookups on an owner's behalf: does the person exist, what are their roles today.
LOOKUPS = ServiceScope("subscription-owners")


class OwnerRefused(Exception):
    """The owner may not see the focus (any more); ``reason`` is PHI-free."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def owner_of(policy: AccessPolicy | None) -> Owner | None:
    """The owner a write records: the caller of an API request (``SmartPolicy``), ``SERVICE`` for development
    access; None for fhircrm's own writes (no policy), which keep the owner already recorded."""
    access = getattr(policy, "access", None)
    if not isinstance(access, AccessContext):
        return None
    if access.development:
        return SERVICE
    contexts = access.scopes.contexts
    kind = next((c for c in ("user", "patient", "system") if c in contexts), "system")
    return Owner(
        kind=kind,
        scopes=" ".join(access.scopes.raw),
        subject=access.subject,
        client_id=access.client_id,
        fhir_user=access.fhir_user,
        patient=access.patient,
        issuer=access.issuer,
    )


def _row(owner: Owner) -> dict:
    return {
        "kind": owner.kind,
        "scopes": owner.scopes,
        "subject": _cut(owner.subject, 255),
        "client_id": _cut(owner.client_id, 255),
        "fhir_user": _cut(owner.fhir_user, 255),
        "patient": _cut(owner.patient, 64),
        "issuer": _cut(owner.issuer, 500),
        "recorded_at": utcnow(),
    }


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


async def record(conn: AsyncConnection, subscription_id: str, owner: Owner | None) -> None:
    """In the writing transaction: ``owner`` replaces the recorded one; None records ``SERVICE`` if none is."""
    t = subscription_owner
    if owner is not None:
        updated = await conn.execute(sa.update(t).where(t.c.subscription_id == subscription_id).values(**_row(owner)))
        if updated.rowcount:
            return
    elif (await conn.execute(sa.select(t.c.kind).where(t.c.subscription_id == subscription_id))).first():
        return
    await conn.execute(sa.insert(t).values(subscription_id=subscription_id, **_row(owner or SERVICE)))


async def load(conn: AsyncConnection, subscription_id: str) -> Owner | None:
    t = subscription_owner
    row = (await conn.execute(sa.select(t).where(t.c.subscription_id == subscription_id))).first()
    if row is None:
        return None
    return Owner(
        kind=row.kind,
        scopes=row.scopes,
        subject=row.subject,
        client_id=row.client_id,
        fhir_user=row.fhir_user,
        patient=row.patient,
        issuer=row.issuer,
    )


async def _exists(store: FhirStore, reference: str) -> bool:
    rtype, fhir_id = split(reference)
    try:
        await store.read(rtype, fhir_id)
    except FhircrmError:
        return False
    return True


async def owner_store(conn: AsyncConnection, settings: Settings, owner: Owner) -> FhirStore:
    """A store that reads as the owner would today; ``OwnerRefused`` when the owner is gone."""
    if owner.kind == "service":
        return FhirStore(conn, policy=ServiceScope("subscriptions"))
    access = owner.access()
    service = FhirStore(conn, policy=LOOKUPS)
    contexts = access.scopes.contexts
    person = local_reference(owner.fhir_user)
    if "user" in contexts and person and not await _exists(service, person):
        raise OwnerRefused("the Subscription's owner no longer exists on this server")
    if "patient" in contexts and owner.patient and not await _exists(service, f"Patient/{owner.patient}"):
        raise OwnerRefused("the Subscription owner's launch patient no longer exists on this server")
    staff = None
    if applies(access, settings):
        staff = await resolve_staff(service, owner.fhir_user, settings)
        access = replace(access, roles=tuple(sorted(staff.roles)))
    return FhirStore(conn, max_count=settings.max_page_size, policy=SmartPolicy(access, staff))


async def forget(conn: AsyncConnection, subscription_id: str) -> None:
    """A deleted Subscription has no owner: whoever creates it again owns it."""
    await conn.execute(sa.delete(subscription_owner).where(subscription_owner.c.subscription_id == subscription_id))


async def check_focus(conn: AsyncConnection, settings: Settings, subscription_id: str, focus: str | None) -> None:
    """``OwnerRefused`` unless the Subscription's owner may, today, have ``focus`` (``Type/id``) in a notification
    (the access table's ``notify`` interaction, decided on the resource as it is now)."""
    owner = await load(conn, subscription_id)
    if owner is None:
        raise OwnerRefused("the Subscription has no recorded owner: update it through the API to record one")
    as_owner = await owner_store(conn, settings, owner)
    if focus is None:
        return
    resource_type, fhir_id = split(focus)
    try:
        if as_owner.branches("notify", resource_type) is None:
            return
    except Forbidden:
        raise OwnerRefused("the Subscription's owner may not read resources of this type") from None
    try:
        current = await FhirStore(conn, policy=LOOKUPS).read(resource_type, fhir_id)
    except (NotFound, Gone):
        raise OwnerRefused("the focus of this event is gone, so its owner's access cannot be checked") from None
    if not await as_owner.visible("notify", [(current.res_pk, current.content or {})]):
        raise OwnerRefused("the Subscription's owner may not read the focus of this event")
