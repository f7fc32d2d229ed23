"""The FHIR store: the one way fhircrm reads and writes resources.

A ``FhirStore`` wraps the request's (or job's) connection; the caller owns the transaction, so a resource, its
history row, its index rows and whatever else the caller writes commit together or not at all. All writes go
through ``apply``, which handles a batch of operations in a few statements: one resource is a batch of one.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import jsonpatch
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.errors import (
    BadRequest,
    Conflict,
    FhircrmError,
    Forbidden,
    Gone,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from fhircrm.fhir import references, validation
from fhircrm.fhir.access import APPEND_ONLY, AccessPolicy, Branches, ServiceScope
from fhircrm.fhir.changes import Change, ChangeListener
from fhircrm.fhir.diff import changed_elements
from fhircrm.fhir.inputs import check_resource, escaped
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.search.dates import format_instant
from fhircrm.fhir.selections import Dated, Restrict, Selection, dated_rows, version_stamp
from fhircrm.fhir.sql import includes as sql_includes
from fhircrm.fhir.sql import reader
from fhircrm.fhir.sql import search as sql_search
from fhircrm.fhir.sql.reader import Current, HistoryEntry
from fhircrm.fhir.sql.writer import Version, write_versions
from fhircrm.fhir.topic_form import basic_branches, is_topic

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def check_type(resource_type: str) -> None:
    if resource_type not in RESOURCE_TYPE_SET:
        raise NotFound(f"unknown resource type: {escaped(resource_type)}")


def check_id(fhir_id: str) -> None:
    if not ID_PATTERN.match(fhir_id):
        raise BadRequest(f"not a valid FHIR id: {fhir_id[:70]!r}", expression="id")


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    """Naive UTC, millisecond precision: what meta.lastUpdated can say exactly."""
    moment = datetime.now(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_etag(value: str) -> int:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 9):  # int() takes " 1\x0b", "1_0", non-ASCII digits
        raise BadRequest(f"not a version ETag: {escaped(value, 40)!r}", expression="If-Match")
    return int(text)


@dataclass(slots=True)
class Operation:
    """One write: ``create`` (POST), ``update`` (PUT), ``patch`` or ``delete``."""

    method: str  # POST | PUT | PATCH | DELETE
    resource_type: str
    fhir_id: str | None = None
    resource: dict | None = None
    if_match: int | None = None
    patch: list | None = None


@dataclass(slots=True)
class Outcome:
    """What a write did: ``status`` is the HTTP status a REST client sees (201, 200, 204)."""

    status: int
    resource_type: str
    fhir_id: str
    version: int
    last_updated: datetime
    content: dict | None
    created: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def location(self) -> str:
        return f"{self.resource_type}/{self.fhir_id}/_history/{self.version}"


@dataclass(slots=True)
class SearchResult:
    query: search_query.SearchQuery
    matches: list[dict]
    included: list[dict]
    has_next: bool
    total: int | None
    count: int


class FhirStore:
    def __init__(
        self,
        conn: AsyncConnection,
        *,
        default_count: int = 20,
        max_count: int = 1000,
        max_include: int = 5000,
        listeners: Sequence[ChangeListener] = (),
        policy: AccessPolicy | None = None,
    ):
        self.conn = conn
        self.listeners = tuple(listeners)
        #: who the store works for: a SmartPolicy (a user's request), a named ServiceScope (fhircrm's own work)
        self.scope = policy
        #: the policy that narrows; a ServiceScope narrows nothing, so its store checks writes as None always did
        self.policy = None if isinstance(policy, ServiceScope) else policy
        #: every resource this store read or wrote, for the request's audit record (references, not copies)
        self.accessed: list[dict] = []
        self.default_count = default_count
        self.max_count = max_count
        self.max_include = max_include

    # --- access ----------------------------------------------------------------------------------------------

    def branches(self, interaction: str, resource_type: str) -> Branches:
        """What the policy lets the caller reach of ``resource_type`` (None: everything; raises Forbidden)."""
        return None if self.policy is None else self.policy.allow(interaction, resource_type)

    def reach(self, interaction: str, resource_type: str) -> Branches:
        """``branches`` for reading many resources of a type at once (a search, the resources an ``_include`` or an
        aggregate brings back): Basic's SubscriptionTopics are configuration, decided by their own row
        (``fhircrm.fhir.topic_form.basic_branches``), as a read of one of them is."""
        if resource_type == "Basic" and self.policy is not None:
            return basic_branches(self.policy.allow, interaction)
        return self.branches(interaction, resource_type)

    def unrestricted(self, interaction: str, resource_type: str) -> None:
        """Interactions across many resources (history, system search) need unrestricted access."""
        if self.branches(interaction, resource_type) is not None:
            raise Forbidden(f"{interaction} on {resource_type} needs user- or system-level access to all of it")

    async def _require_visible(self, interaction: str, current: Current) -> None:
        if not current.deleted and is_topic(current.content):
            self.branches(interaction, "SubscriptionTopic")  # configuration: never narrowed, allowed or refused
            return
        branches = self.branches(interaction, current.res_type)
        if branches is None:
            return
        visible = await sql_search.visible_pks(self.conn, current.res_type, [current.res_pk], branches)
        if current.deleted or current.res_pk not in visible:
            raise Forbidden(f"access to {current.res_type}/{current.fhir_id} is not granted to this client")

    async def visible(self, interaction: str, resources: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
        """Keep the (pk, resource) pairs the caller may ``interaction``; types it may not touch at all drop out."""
        by_type: dict[str, list[int]] = {}
        for pk, content in resources:
            by_type.setdefault(content["resourceType"], []).append(pk)
        allowed: set[int] = set()
        for resource_type, pks in by_type.items():
            try:
                branches = self.reach(interaction, resource_type)
            except Forbidden:
                continue
            allowed |= (
                set(pks) if branches is None else await sql_search.visible_pks(self.conn, resource_type, pks, branches)
            )
        return [(pk, content) for pk, content in resources if pk in allowed]

    # --- reads -----------------------------------------------------------------------------------------------

    async def read(self, resource_type: str, fhir_id: str) -> Current:
        check_type(resource_type)
        check_id(fhir_id)
        found = (await reader.current(self.conn, [(resource_type, fhir_id)])).get((resource_type, fhir_id))
        if found is None:
            raise NotFound(f"{resource_type}/{fhir_id} is not known")
        await self._require_visible("read", found)
        if found.deleted:
            raise Gone(f"{resource_type}/{fhir_id} was deleted (version {found.version})")
        self.accessed.append(found.content or {})
        return found

    async def vread(self, resource_type: str, fhir_id: str, version_id: str) -> HistoryEntry:
        check_type(resource_type)
        check_id(fhir_id)
        if not (version_id.isascii() and version_id.isdigit() and len(version_id) <= 9):
            raise NotFound(f"{resource_type}/{fhir_id} has no version {escaped(version_id, 20)!r}")
        number = int(version_id)
        current = (await reader.current(self.conn, [(resource_type, fhir_id)])).get((resource_type, fhir_id))
        if current is not None:
            await self._require_visible("vread", current)
        entry = await reader.version(self.conn, resource_type, fhir_id, number)
        if entry is None:
            raise NotFound(f"{resource_type}/{fhir_id} has no version {number}")
        if entry.content is None:
            raise Gone(f"{resource_type}/{fhir_id} version {number} is a deletion")
        self.accessed.append(entry.content)
        return entry

    async def history(
        self,
        resource_type: str | None = None,
        fhir_id: str | None = None,
        *,
        since: datetime | None = None,
        at: datetime | None = None,
        offset: int = 0,
        count: int | None = None,
    ) -> tuple[list[HistoryEntry], bool]:
        if resource_type:
            check_type(resource_type)
        if fhir_id:
            await self._exists(resource_type or "", fhir_id)
        elif resource_type:
            self.unrestricted("history-type", resource_type)
        else:
            self.unrestricted("history-system", "Resource")
        limit = self._count(count)
        entries = await reader.history(
            self.conn, res_type=resource_type, fhir_id=fhir_id, since=since, at=at, offset=offset, limit=limit + 1
        )
        return entries[:limit], len(entries) > limit

    async def _exists(self, resource_type: str, fhir_id: str) -> None:
        check_id(fhir_id)
        found = (await reader.current(self.conn, [(resource_type, fhir_id)])).get((resource_type, fhir_id))
        if found is None:
            raise NotFound(f"{resource_type}/{fhir_id} is not known")
        await self._require_visible("history-instance", found)

    def _count(self, count: int | None) -> int:
        return min(self.default_count if count is None else count, self.max_count)

    async def search(
        self, resource_type: str | None, params: Iterable[tuple[str, str]], *, strict: bool = False, base: str = ""
    ) -> SearchResult:
        """Search by query parameters; ``base`` (this server's FHIR base URL) makes absolute references to
        it count as local ones."""
        if resource_type:
            check_type(resource_type)
        query = search_query.parse(resource_type, params, strict=strict)
        query.base = base
        return await self.run_search(query)

    async def run_search(self, query: search_query.SearchQuery) -> SearchResult:
        count = 0 if query.summary == "count" else self._count(query.count)
        # _count=0 asks for the count only, like _summary=count
        want_total = count == 0 or query.summary == "count" or query.total in ("accurate", "estimate")
        page = await sql_search.run(
            self.conn, query, count=count, count_total=want_total, restrict=self._search_restriction(query)
        )
        matches = await reader.by_pks(self.conn, page.pks)
        included: list[dict] = []
        if query.includes and matches:
            keyed = [(pk, m["resourceType"], m["id"]) for pk, m in zip(page.pks, matches, strict=False)]
            pks = await sql_includes.includes(self.conn, keyed, query.includes, limit=self.max_include, base=query.base)
            contents = await reader.by_pks(self.conn, pks)
            # an _include must never reach what the caller could not read directly
            included = [c for _, c in await self.visible("read", list(zip(pks, contents, strict=False)))]
        self.accessed.extend(matches)
        self.accessed.extend(included)
        total = page.total
        if total is None and not page.has_next and (matches or query.offset == 0) and query.summary != "count":
            total = query.offset + len(matches)  # this is the last page: the total is known for free
        return SearchResult(query, matches, included, page.has_next, total, count)

    def _search_restriction(self, query: search_query.SearchQuery) -> ColumnElement[bool] | None:
        if query.resource_type is None:
            self.unrestricted("search-system", "Resource")
            return None
        branches = self.reach("search", query.resource_type)
        return None if branches is None else sql_search.restriction(query.resource_type, branches)

    async def find(self, resource_type: str, criteria: str) -> list[Current]:
        """Resources matching a conditional URL's query (``identifier=x|y``), for conditional interactions."""
        from urllib.parse import parse_qsl

        pairs = parse_qsl(criteria, keep_blank_values=True)
        if not pairs:
            raise BadRequest("a conditional interaction needs search criteria")
        query = search_query.parse(resource_type, pairs, strict=True)
        query.count = 2
        page = await sql_search.run(
            self.conn, query, count=2, count_total=False, restrict=self._search_restriction(query)
        )
        matches = await reader.by_pks(self.conn, page.pks)
        found = await reader.current(self.conn, [(m["resourceType"], m["id"]) for m in matches])
        return list(found.values())

    # --- selections: the public read side for aggregates (fhircrm.fhir.selections) ------------------------

    def restriction(self, resource_type: str, interaction: str = "search") -> Restrict:
        """The caller's access to ``resource_type`` as a condition on the resource table (None: all of it), as
        ``run_search`` applies it; raises Forbidden when the policy grants none."""
        branches = self.reach(interaction, resource_type)
        return None if branches is None else sql_search.restriction(resource_type, branches)

    def select(self, resource_type: str, params: Iterable[tuple[str, str]], *, strict: bool = False) -> Selection:
        """What a search of ``resource_type`` matches within the caller's access, to count, group or lock
        (``Selection``); compiled, not run."""
        check_type(resource_type)
        query = search_query.parse(resource_type, list(params), strict=strict)
        compiled = sql_search.compile_query(query, restrict=self.restriction(resource_type))
        return Selection(self.conn, resource_type, compiled)

    def dated(
        self,
        resource_type: str,
        date_param: str,
        code_param: str,
        codes: Sequence[str],
        since: datetime,
        until: datetime,
    ) -> Dated:
        """(pk, start, code) rows of the resources whose ``date_param`` starts in [since, until] and whose
        ``code_param`` is one of ``codes``, within the caller's access, for grouped counts (``Dated``)."""
        check_type(resource_type)
        since, until = (moment.astimezone(UTC).replace(tzinfo=None) for moment in (since, until))  # as index dates
        rows = dated_rows(resource_type, date_param, code_param, codes, since, until, self.restriction(resource_type))
        return Dated(self.conn, resource_type, rows, self._reachable)

    def _reachable(self, resource_type: str) -> Restrict:
        try:
            return self.restriction(resource_type)
        except Forbidden:
            return sa.false()

    async def version_stamp(self, resource_type: str) -> tuple[int, int]:
        """What changes whenever a ``resource_type`` resource is written (``selections.version_stamp``), for
        caches of configuration such as the journeys; needs access to all of the type."""
        check_type(resource_type)
        self.unrestricted("search", resource_type)
        return await version_stamp(self.conn, resource_type)

    async def lock(self, resource_type: str, fhir_id: str) -> Current | None:
        """The current row of ``resource_type/fhir_id`` locked for the caller's transaction (deleted ones
        included, None when unknown), to serialize on it; a live one must be the caller's to read."""
        check_type(resource_type)
        check_id(fhir_id)
        found = (await reader.current(self.conn, [(resource_type, fhir_id)], for_update=True)).get(
            (resource_type, fhir_id)
        )
        if found is not None and not found.deleted:
            await self._require_visible("read", found)
            self.accessed.append(found.content or {})
        return found

    # --- writes ----------------------------------------------------------------------------------------------

    async def match_one(
        self, resource_type: str, criteria: str, *, what: str, exclude: frozenset[tuple[str, str]] = frozenset()
    ) -> Current | None:
        """The one live resource a conditional URL matches, None for no match; 412 when several match."""
        check_type(resource_type)
        await self.serialize_conditional(resource_type, criteria)
        if exclude:
            live = [c for c in await self.match_all(resource_type, criteria) if (c.res_type, c.fhir_id) not in exclude]
        else:
            live = [c for c in await self.find(resource_type, criteria) if not c.deleted]
        if len(live) > 1:
            raise PreconditionFailed(f"{what} criteria match several {resource_type} resources; be more selective")
        return live[0] if live else None

    async def serialize_conditional(self, resource_type: str, criteria: str) -> None:
        """Make a conditional write's match and write one step for concurrent requests with the same criteria.

        Without it, 20 concurrent ``If-None-Exist`` creates can all see no match and all insert. On PostgreSQL a
        transaction-scoped advisory lock on (type, normalized criteria) makes the second wait until the first
        commits; its match, a new statement under READ COMMITTED, then sees the first one's resource. SQLite
        needs nothing: every transaction begins IMMEDIATE (``fhircrm.db``), holding the one write lock."""
        if self.conn.dialect.name == "postgresql":
            key = criteria_lock_key(resource_type, criteria)
            await self.conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({key})")

    async def match_all(self, resource_type: str, criteria: str, *, limit: int = 10_000) -> list[Current]:
        """Every live resource a conditional URL matches (conditional delete of several)."""
        check_type(resource_type)
        pairs = parse_qsl(criteria, keep_blank_values=True)
        if not pairs:
            raise BadRequest("a conditional interaction needs search criteria")
        pairs = [(k, v) for k, v in pairs if k not in ("_count", "_offset", "_sort")]
        found: list[dict] = []
        while True:
            page = [*pairs, ("_count", str(self.max_count)), ("_offset", str(len(found)))]
            result = await self.search(resource_type, page, strict=True)
            found.extend(result.matches)
            if not result.has_next or not result.matches:
                break
            if len(found) > limit:
                raise PreconditionFailed(f"the criteria match more than {limit} {resource_type} resources")
        current = await reader.current(self.conn, [(m["resourceType"], m["id"]) for m in found])
        return [c for c in current.values() if not c.deleted]

    async def create(self, resource: dict, *, if_none_exist: str | None = None) -> Outcome:
        resource_type = resource.get("resourceType", "")
        check_type(resource_type)
        if if_none_exist:
            found = await self.match_one(resource_type, if_none_exist, what="If-None-Exist")
            if found:
                return existing_outcome(found)
        return (await self.apply([Operation("POST", resource_type, resource=resource)]))[0]

    async def update(self, resource_type: str, fhir_id: str, resource: dict, *, if_match: str | None = None) -> Outcome:
        op = Operation("PUT", resource_type, fhir_id, resource, parse_etag(if_match) if if_match else None)
        return (await self.apply([op]))[0]

    async def conditional_update(
        self, resource_type: str, criteria: str, resource: dict, *, if_match: str | None = None
    ) -> Outcome:
        op = await self.conditional_update_operation(resource_type, criteria, resource)
        op.if_match = parse_etag(if_match) if if_match else None
        return (await self.apply([op]))[0]

    async def conditional_update_operation(
        self,
        resource_type: str,
        criteria: str,
        resource: dict,
        *,
        exclude: frozenset[tuple[str, str]] = frozenset(),
    ) -> Operation:
        """One match: update it; none: create (with the body's id if it has one); several: 412."""
        found = await self.match_one(resource_type, criteria, what="conditional update", exclude=exclude)
        body_id = resource.get("id")
        if found:
            if body_id and body_id != found.fhir_id:
                raise BadRequest(
                    f"id {body_id!r} in the body is not the resource the criteria match",
                    expression=f"{resource_type}.id",
                )
            return Operation("PUT", resource_type, found.fhir_id, {**resource, "id": found.fhir_id})
        if body_id:
            return Operation("PUT", resource_type, body_id, resource)
        return Operation("POST", resource_type, new_id(), resource)

    async def patch(self, resource_type: str, fhir_id: str, patch: list, *, if_match: str | None = None) -> Outcome:
        op = Operation("PATCH", resource_type, fhir_id, None, parse_etag(if_match) if if_match else None, patch)
        return (await self.apply([op]))[0]

    async def conditional_patch(
        self, resource_type: str, criteria: str, patch: list, *, if_match: str | None = None
    ) -> Outcome:
        found = await self.match_one(resource_type, criteria, what="conditional patch")
        if found is None:
            raise NotFound(f"no {resource_type} matches the conditional patch criteria")
        return await self.patch(resource_type, found.fhir_id, patch, if_match=if_match)

    async def delete(self, resource_type: str, fhir_id: str) -> Outcome:
        return (await self.apply([Operation("DELETE", resource_type, fhir_id)]))[0]

    async def conditional_delete(self, resource_type: str, criteria: str, *, multiple: bool = False) -> list[Outcome]:
        """Delete what the criteria match: one, or (with ``multiple``) all of them; several without it: 412."""
        if multiple:
            await self.serialize_conditional(resource_type, criteria)
            found = await self.match_all(resource_type, criteria)
        else:
            one = await self.match_one(resource_type, criteria, what="conditional delete")
            found = [one] if one else []
        if not found:
            return []
        return await self.apply([Operation("DELETE", resource_type, c.fhir_id) for c in found])

    async def apply(self, operations: Sequence[Operation]) -> list[Outcome]:
        """Validate and write a batch of operations on distinct resources, atomically with the caller.

        A POST that carries an id was given a fresh id by the caller (a transaction assigns them up front so
        that ``urn:uuid`` references can point at them); it is not looked up. When an operation is refused,
        the error says which one in ``error.operation`` (its index), so a transaction can name the entry.
        """
        for i, op in enumerate(operations):
            try:
                check_type(op.resource_type)
                if op.fhir_id is not None:
                    check_id(op.fhir_id)
            except FhircrmError as exc:
                exc.operation = i  # type: ignore[attr-defined]
                raise
        keys = [(op.resource_type, op.fhir_id) for op in operations if op.fhir_id is not None]
        if len(set(keys)) != len(keys):
            raise BadRequest("the same resource is written twice in one batch")
        lookup = [(op.resource_type, op.fhir_id) for op in operations if op.fhir_id is not None and op.method != "POST"]
        existing = await reader.current(self.conn, lookup, for_update=True)
        if self.policy is not None:
            await self._check_writes(operations, existing)
        timestamp = now()
        versions: list[Version] = []
        outcomes: list[Outcome] = []
        for i, op in enumerate(operations):
            current = existing.get((op.resource_type, op.fhir_id)) if op.fhir_id and op.method != "POST" else None
            try:
                version, outcome = self._plan(op, current, timestamp)
            except FhircrmError as exc:
                exc.operation = i  # type: ignore[attr-defined]
                raise
            if version is not None:
                versions.append(version)
            outcomes.append(outcome)
        if self.policy is not None:
            await self._check_contents(outcomes, versions, existing)
        await write_versions(self.conn, versions)
        if self.policy is not None:
            await self._check_written(operations, versions, existing)
        self.accessed.extend(v.content for v in versions if v.content is not None)
        if versions and (self.listeners or self.policy is not None):
            changes = [_change(v, existing.get((v.res_type, v.fhir_id))) for v in versions]
            for listener in self.listeners:
                await listener(self.conn, changes)
            if (after_write := getattr(self.policy, "after_write", None)) is not None:
                await after_write(self.conn, changes)
        return outcomes

    async def _check_writes(self, operations: Sequence[Operation], existing: dict[tuple[str, str], Current]) -> None:
        """Before writing: the interaction is granted, and what is changed or deleted is the caller's to touch."""
        for i, op in enumerate(operations):
            try:
                if op.resource_type in APPEND_ONLY and op.method != "POST":
                    raise MethodNotAllowed(f"{op.resource_type} resources cannot be changed or deleted")
                current = existing.get((op.resource_type, op.fhir_id)) if op.method != "POST" else None
                interaction = _interaction(op, current)
                topic = is_topic(op.resource) or (current is not None and is_topic(current.content))
                # raises Forbidden when not granted at all; a SubscriptionTopic in Basic form is configuration
                self.branches(interaction, "SubscriptionTopic" if topic else op.resource_type)
                if current is not None and not current.deleted:
                    await self._require_visible(interaction, current)
            except FhircrmError as exc:
                exc.operation = i  # type: ignore[attr-defined]
                raise

    async def _check_contents(
        self, outcomes: list[Outcome], versions: list[Version], existing: dict[tuple[str, str], Current]
    ) -> None:
        """Before writing: what each new version says is the caller's to say (the policy's ``check_change``), and
        every Patient it references is one the caller reaches *now*, or one written in this same batch. Checked
        before the write, so naming oneself beside a patient (an Appointment's actor, a CareTeam's participant)
        cannot bring that patient into reach, and a patient app cannot address another patient's record."""
        index = {(o.resource_type, o.fhir_id): i for i, o in enumerate(outcomes)}
        check_change = getattr(self.policy, "check_change", None)
        written = {v.fhir_id for v in versions if v.res_type == "Patient"}
        wanted: dict[str, int] = {}
        for version in versions:
            i = index.get((version.res_type, version.fhir_id))
            previous = existing.get((version.res_type, version.fhir_id))
            try:
                if check_change is not None:
                    check_change(version.res_type, previous.content if previous else None, version.content)
            except FhircrmError as exc:
                exc.operation = i  # type: ignore[attr-defined]
                raise
            for ref in references.objects(version.content) if version.content is not None else ():
                patient = references.patient_id(ref["reference"])
                if patient is not None and patient not in written:
                    wanted.setdefault(patient, i if i is not None else 0)
        if not wanted:
            return
        try:
            branches = self.branches("read", "Patient")
        except Forbidden:
            branches = []
        if branches is None:
            return
        found = await reader.current(self.conn, [("Patient", p) for p in wanted])
        live = [c.res_pk for c in found.values() if not c.deleted]
        visible = await sql_search.visible_pks(self.conn, "Patient", live, branches) if live and branches else set()
        for patient, i in wanted.items():
            current = found.get(("Patient", patient))
            if current is None or current.deleted or current.res_pk not in visible:
                error = Forbidden(f"the resource refers to Patient/{patient}, whom this client may not reach")
                error.operation = i  # type: ignore[attr-defined]
                raise error

    async def _check_written(
        self, operations: Sequence[Operation], versions: list[Version], existing: dict[tuple[str, str], Current]
    ) -> None:
        """After writing (same transaction): each new version is one the caller may see, so a patient-scoped
        client cannot create or move a resource into another patient's compartment."""
        by_key = {(op.resource_type, op.fhir_id): (i, op) for i, op in enumerate(operations)}
        for version in versions:
            if version.content is None:
                continue
            i, op = by_key.get((version.res_type, version.fhir_id), (None, None))
            interaction = _interaction(op, existing.get((version.res_type, version.fhir_id))) if op else "create"
            try:  # a SubscriptionTopic in Basic form (a patch may make one) is configuration, never narrowed
                access_type = "SubscriptionTopic" if is_topic(version.content) else version.res_type
                branches = self.branches(interaction, access_type)
            except FhircrmError as exc:
                exc.operation = i  # type: ignore[attr-defined]
                raise
            if branches is None:
                continue
            if version.res_pk not in await sql_search.visible_pks(
                self.conn, version.res_type, [version.res_pk], branches
            ):
                error = Forbidden(
                    f"{version.res_type} would be outside what this client may {interaction} (its patient or scope)"
                )
                error.operation = i  # type: ignore[attr-defined]
                raise error

    def _plan(self, op: Operation, current: Current | None, timestamp: datetime) -> tuple[Version | None, Outcome]:
        if op.if_match is not None:
            if current is None or current.deleted:
                raise PreconditionFailed(f"If-Match given but {op.resource_type}/{op.fhir_id} does not exist")
            if current.version != op.if_match:
                raise PreconditionFailed(
                    f"{op.resource_type}/{op.fhir_id} is at version {current.version}, not {op.if_match}"
                )
        if op.method == "DELETE":
            if current is None or current.deleted:
                number = current.version if current else 0
                return None, Outcome(204, op.resource_type, op.fhir_id or "", number, timestamp, None)
            version = Version(
                op.resource_type, current.fhir_id, current.version + 1, timestamp, "DELETE", None, current.res_pk
            )
            return version, Outcome(204, op.resource_type, current.fhir_id, version.version, timestamp, None)
        if op.method == "PATCH":
            if current is None:
                raise NotFound(f"{op.resource_type}/{op.fhir_id} is not known")
            if current.deleted:
                raise Gone(f"{op.resource_type}/{op.fhir_id} was deleted")
            body = apply_patch(current.content or {}, op.patch or [])
        else:
            body = op.resource
        if not isinstance(body, dict):
            raise BadRequest("the body must be a FHIR resource (a JSON object)")
        check_resource(body)  # control characters, huge numbers, nesting: 422 before validation and SQL
        if body.get("resourceType") != op.resource_type:
            raise BadRequest(
                f"resourceType {body.get('resourceType')!r} does not match the URL's {op.resource_type}",
                expression="resourceType",
            )
        if op.method in ("PUT", "PATCH"):
            if body.get("id") != op.fhir_id:
                if op.method == "PUT" and "id" not in body:
                    raise BadRequest("an update must carry the resource id", expression=f"{op.resource_type}.id")
                raise BadRequest(
                    f"id {body.get('id')!r} in the body does not match {op.fhir_id!r} in the URL",
                    expression=f"{op.resource_type}.id",
                )
            fhir_id = op.fhir_id or ""
        else:
            fhir_id = op.fhir_id or new_id()
        number = current.version + 1 if current else 1
        content = stamp(body, fhir_id, number, timestamp)
        previous = current.content if current else None  # None when new or deleted: validate it all
        changed = changed_elements(previous, content)
        if previous is None or changed is None:
            validation.validate(content)  # the R4 definitions: elements, cardinalities, types, codes, invariants
        else:
            validation.validate_change(content, previous, changed)
        references.check(content)
        version = Version(
            op.resource_type,
            fhir_id,
            number,
            timestamp,
            op.method,
            content,
            current.res_pk if current else None,
            changed=changed,
        )
        created = current is None or current.deleted
        status = 201 if created else 200
        return version, Outcome(status, op.resource_type, fhir_id, number, timestamp, content, created=created)


def criteria_lock_key(resource_type: str, criteria: str) -> int:
    """A signed 64-bit advisory lock key for (type, criteria): the decoded pairs sorted, so ``a=1&b=2`` and
    ``b=2&a=%31`` are one lock; paging and format parameters left out (they do not change what matches)."""
    pairs = sorted((k, v) for k, v in parse_qsl(criteria, keep_blank_values=True) if k not in _NOT_CRITERIA)
    text = resource_type + "?" + "&".join(f"{k}={v}" for k, v in pairs)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, person=b"fhircrm-cond").digest()
    return int.from_bytes(digest, "big", signed=True)


_NOT_CRITERIA = frozenset({"_count", "_offset", "_sort", "_format", "_pretty", "_summary", "_elements"})


def existing_outcome(found: Current) -> Outcome:
    """What a conditional create answers when the resource already exists: 200 and the resource as it is."""
    return Outcome(200, found.res_type, found.fhir_id, found.version, found.last_updated, found.content)


def stamp(body: dict, fhir_id: str, version: int, timestamp: datetime) -> dict:
    """The stored form: server-assigned id, versionId and lastUpdated, the rest of meta kept."""
    content = {k: v for k, v in body.items() if k not in ("id", "meta")}
    if not isinstance(body.get("meta", {}), dict):
        raise Unprocessable("meta must be an object", expression=f"{body.get('resourceType')}.meta")
    meta = dict(body.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(timestamp)
    return {"resourceType": body["resourceType"], "id": fhir_id, "meta": meta, **content}


def apply_patch(content: dict, patch: list) -> dict:
    try:
        result = jsonpatch.apply_patch(content, patch)
    except jsonpatch.JsonPatchTestFailed as exc:  # RFC 5789: the resource is not in the state the client expected
        raise Conflict(f"JSON Patch test failed: {exc}") from None
    except jsonpatch.JsonPatchConflict as exc:
        raise Unprocessable(f"JSON Patch cannot be applied: {exc}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise BadRequest(f"invalid JSON Patch: {exc}") from None
    if isinstance(result, dict) and (
        result.get("id") != content.get("id") or result.get("resourceType") != content.get("resourceType")
    ):
        raise Unprocessable("a patch may not change the resource's id or type")
    return result


def _change(version: Version, previous: Current | None) -> Change:
    return Change(
        version.res_type, version.fhir_id, version.method, previous.content if previous else None, version.content
    )


def _interaction(op: Operation, current: Current | None) -> str:
    if op.method == "DELETE":
        return "delete"
    if op.method == "PATCH":
        return "patch"
    if op.method == "PUT" and current is not None and not current.deleted:
        return "update"
    return "create"
