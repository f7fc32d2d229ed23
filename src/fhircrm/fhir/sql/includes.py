"""``_include`` and ``_revinclude``: resources a page of matches refers to, or that refer to it.

``:iterate`` repeats the included specs on what the previous round found, for a bounded number of rounds;
every resource is returned once, so cycles end. Deleted resources are never included.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.search.param_types.reference import local_reference
from fhircrm.fhir.search.query import Include
from fhircrm.fhir.search.registry import registry, sp_hash
from fhircrm.fhir.sql.tables import idx_reference, resource

Key = tuple[int, str, str]  # (pk, resource type, id)
MAX_ROUNDS = 4  # a first round plus three :iterate rounds


async def includes(
    conn: AsyncConnection, matches: list[Key], specs: list[Include], *, limit: int, base: str = ""
) -> list[int]:
    """Primary keys of resources included by ``specs`` for ``matches``, at most ``limit`` of them."""
    found: dict[int, None] = {}
    seen = {pk for pk, _, _ in matches}
    frontier = matches
    rounds = MAX_ROUNDS if any(s.iterate for s in specs) else 1
    for round_ in range(rounds):
        active = specs if round_ == 0 else [s for s in specs if s.iterate]
        new: list[Key] = []
        for spec in active:
            if spec.reverse:
                sources = frontier if spec.target_type is None else [m for m in frontier if m[1] == spec.target_type]
            else:
                sources = [m for m in frontier if m[1] == spec.source_type]
            if not sources:
                continue
            rows = await (_reverse if spec.reverse else _forward)(conn, spec, sources, base)
            for pk, res_type, fhir_id in rows:
                if pk in seen:
                    continue
                seen.add(pk)
                found[pk] = None
                new.append((pk, res_type, fhir_id))
                if len(found) >= limit:
                    return list(found)
        if not new:
            break
        frontier = new
    return list(found)


def _reference_sps(source_type: str, code: str) -> list[int]:
    if code != "*":
        return [sp_hash(source_type, code)]
    return [p.sp for p in registry().params(source_type).values() if p.type == "reference"]


async def _forward(conn: AsyncConnection, spec: Include, sources: list[Key], base: str) -> list[Key]:
    ref = idx_reference
    target = resource.alias()
    query = (
        sa.select(target.c.id, target.c.res_type, target.c.fhir_id)
        .join(ref, sa.and_(ref.c.target_type == target.c.res_type, ref.c.target_id == target.c.fhir_id))
        .where(
            ref.c.res_pk.in_([pk for pk, _, _ in sources]),
            ref.c.sp.in_(_reference_sps(spec.source_type, spec.param)),
            local_reference(base),
            target.c.deleted.is_(False),
        )
        .distinct()
    )
    if spec.target_type:
        query = query.where(target.c.res_type == spec.target_type)
    return [tuple(row) for row in await conn.execute(query)]


async def _reverse(conn: AsyncConnection, spec: Include, targets: list[Key], base: str) -> list[Key]:
    ref = idx_reference
    source = resource.alias()
    keys = [(res_type, fhir_id) for _, res_type, fhir_id in targets]
    query = (
        sa.select(source.c.id, source.c.res_type, source.c.fhir_id)
        .join(ref, ref.c.res_pk == source.c.id)
        .where(
            ref.c.sp.in_(_reference_sps(spec.source_type, spec.param)),
            sa.tuple_(ref.c.target_type, ref.c.target_id).in_(keys),
            local_reference(base),
            source.c.deleted.is_(False),
        )
        .distinct()
    )
    return [tuple(row) for row in await conn.execute(query)]
