"""Transaction Bundles: all entries succeed together or nothing is stored.

The FHIR processing order is kept (DELETE, POST, PUT/PATCH, then GET), but the writes are not run one by one:
every id is resolved first (server ids assigned to POST entries up front, conditional URLs matched), every
``urn:uuid:`` and conditional reference is rewritten, and then all writes go to the store in ONE ``apply``,
which costs a handful of multi-row statements whatever the bundle size. GETs run last and see the writes.
Batches reuse this with one entry at a time (``batch.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fhircrm.errors import BadRequest, FhircrmError, NotFound, PreconditionFailed
from fhircrm.fhir import bundles, references
from fhircrm.fhir.bundle_entries import Entry, at_entry, read_entry, write_entry
from fhircrm.fhir.search.dates import format_instant
from fhircrm.fhir.store import FhirStore, Operation, Outcome, existing_outcome, new_id, parse_etag

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3}


@dataclass(slots=True)
class Plan:
    """What the writes of a bundle will do, worked out before anything is written."""

    operations: list[Operation] = field(default_factory=list)
    entry_of: list[Entry] = field(default_factory=list)  # operations[i] comes from entry_of[i]
    results: dict[int, list[Outcome]] = field(default_factory=dict)  # entry index -> outcomes known up front
    targets: dict[str, str] = field(default_factory=dict)  # fullUrl -> "Type/id"
    deleted: set[tuple[str, str]] = field(default_factory=set)
    written: dict[tuple[str, str], int] = field(default_factory=dict)  # resource -> entry index

    def add(self, entry: Entry, op: Operation) -> None:
        key = (op.resource_type, op.fhir_id or "")
        if key in self.written:
            raise BadRequest(
                f"{entry.where} and Bundle.entry[{self.written[key]}] both change {key[0]}/{key[1]}",
                expression=entry.where,
            )
        self.written[key] = entry.index
        self.operations.append(op)
        self.entry_of.append(entry)


async def run_transaction(store: FhirStore, entries: list[Entry], *, base: str, ret: str) -> list[dict]:
    """Run ``entries`` atomically (the caller's transaction) and return one response entry per entry, in order."""
    _check_full_urls(entries)
    plan = Plan()
    for entry in sorted(entries, key=lambda e: (ORDER[e.method], e.index)):
        if entry.method == "GET":
            continue
        try:
            await _resolve(store, plan, entry)
        except FhircrmError as exc:
            raise at_entry(exc, entry) from None
    for entry in entries:
        try:
            await _rewrite_references(store, plan, entry)
        except FhircrmError as exc:
            raise at_entry(exc, entry) from None
    try:
        outcomes = await store.apply(plan.operations)
    except FhircrmError as exc:
        failed = getattr(exc, "operation", None)
        if failed is None:
            raise
        raise at_entry(exc, plan.entry_of[failed]) from None
    for entry, outcome in zip(plan.entry_of, outcomes, strict=True):
        plan.results.setdefault(entry.index, []).append(outcome)
    answers: list[dict] = []
    for entry in entries:
        if entry.method == "GET":
            try:
                answers.append(await read(store, entry, base=base))
            except FhircrmError as exc:
                raise at_entry(exc, entry) from None
        else:
            answers.append(_answer(entry, plan.results.get(entry.index, []), base=base, ret=ret))
    return answers


async def _resolve(store: FhirStore, plan: Plan, entry: Entry) -> None:
    """Decide which resource ``entry`` writes (and its id), without writing anything yet."""
    rt = entry.resource_type
    if_match = parse_etag(entry.if_match) if entry.if_match else None
    exclude = frozenset(plan.deleted)
    if entry.method == "DELETE":
        if entry.fhir_id:
            targets = [entry.fhir_id]
        else:
            found = await store.match_one(rt, entry.criteria or "", what="conditional delete", exclude=exclude)
            targets = [found.fhir_id] if found else []
            if not targets:
                plan.results[entry.index] = []
        for fhir_id in targets:
            plan.add(entry, Operation("DELETE", rt, fhir_id, if_match=if_match))
            plan.deleted.add((rt, fhir_id))
        return
    if entry.method == "POST":
        assert entry.resource is not None
        if entry.if_none_exist:
            found = await store.match_one(rt, entry.if_none_exist, what="ifNoneExist", exclude=exclude)
            if found:
                plan.results[entry.index] = [existing_outcome(found)]
                _target(plan, entry, rt, found.fhir_id)
                return
        op = Operation("POST", rt, new_id(), entry.resource)
    elif entry.method == "PUT":
        assert entry.resource is not None
        if entry.fhir_id:
            op = Operation("PUT", rt, entry.fhir_id, entry.resource)
        else:
            op = await store.conditional_update_operation(rt, entry.criteria or "", entry.resource, exclude=exclude)
    else:  # PATCH
        fhir_id = entry.fhir_id
        if not fhir_id:
            found = await store.match_one(rt, entry.criteria or "", what="conditional patch", exclude=exclude)
            if found is None:
                raise NotFound(f"no {rt} matches the conditional patch criteria")
            fhir_id = found.fhir_id
        op = Operation("PATCH", rt, fhir_id, patch=entry.patch)
    op.if_match = if_match
    plan.add(entry, op)
    _target(plan, entry, rt, op.fhir_id or "")


def _check_full_urls(entries: list[Entry]) -> None:
    """Two entries with one ``fullUrl`` would make a ``urn:uuid:`` reference to it mean either resource: 400."""
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.full_url is None:
            continue
        if entry.full_url in seen:
            raise BadRequest(
                f"{entry.where} and Bundle.entry[{seen[entry.full_url]}] have the same fullUrl "
                f"{entry.full_url[:100]!r}; each entry needs its own",
                expression=f"{entry.where}.fullUrl",
            )
        seen[entry.full_url] = entry.index


def _target(plan: Plan, entry: Entry, resource_type: str, fhir_id: str) -> None:
    if entry.full_url:
        plan.targets[entry.full_url] = f"{resource_type}/{fhir_id}"


async def _rewrite_references(store: FhirStore, plan: Plan, entry: Entry) -> None:
    """Point ``urn:uuid:`` (any fullUrl of the bundle) and conditional references at the resolved resources."""
    document: object = entry.resource if entry.method in ("POST", "PUT") else entry.patch
    if not document:
        return
    conditional: dict[str, str] = {}
    for ref in references.objects(document):
        value = ref["reference"]
        if value in plan.targets:
            ref["reference"] = plan.targets[value]
        elif value.startswith("urn:uuid:"):  # names an entry of the bundle, and none has that fullUrl
            where = references.location(document, entry.resource_type, ref)
            raise BadRequest(f"{where}: {value[:80]!r} is the fullUrl of no entry of this bundle", expression=where)
        elif references.is_conditional(value):
            if value not in conditional:
                where = references.location(document, entry.resource_type, ref)
                conditional[value] = await _resolve_reference(store, value, where)
            ref["reference"] = conditional[value]


async def _resolve_reference(store: FhirStore, reference: str, location: str) -> str:
    resource_type, _, criteria = reference.partition("?")
    try:
        found = await store.match_all(resource_type, criteria, limit=store.max_count)
    except FhircrmError as exc:
        raise type(exc)(f"conditional reference {reference[:80]!r}: {exc.diagnostics}", expression=location) from None
    if not found:
        raise NotFound(f"the conditional reference {reference[:80]!r} matches no resource", expression=location)
    if len(found) > 1:
        raise PreconditionFailed(
            f"the conditional reference {reference[:80]!r} matches {len(found)} resources", expression=location
        )
    return f"{resource_type}/{found[0].fhir_id}"


def _answer(entry: Entry, outcomes: list[Outcome], *, base: str, ret: str) -> dict:
    if not outcomes:  # a conditional delete that matched nothing
        return {"response": {"status": "204 No Content"}}
    return write_entry(outcomes[0], base=base, ret=ret)


async def read(store: FhirStore, entry: Entry, *, base: str) -> dict:
    """A GET entry: read, vread or search."""
    if entry.fhir_id and entry.version:
        found = await store.vread(entry.resource_type, entry.fhir_id, entry.version)
        return read_entry(
            found.content or {}, etag=f'W/"{found.version}"', last_modified=format_instant(found.last_updated)
        )
    if entry.fhir_id:
        current = await store.read(entry.resource_type, entry.fhir_id)
        return read_entry(
            current.content or {}, etag=f'W/"{current.version}"', last_modified=format_instant(current.last_updated)
        )
    pairs = parse_qsl(entry.criteria or "", keep_blank_values=True)
    result = await store.search(entry.resource_type, pairs, base=base)
    return read_entry(bundles.searchset(result, base=base, path=entry.resource_type))
