"""SMART on FHIR scopes, v1 and v2, parsed once per token and asked "may this client do X on type T?".

Resource scopes are ``<context>/<type>.<permissions>[?<query>]`` with context ``patient``, ``user`` or
``system``, type a resource type or ``*``, and permissions either v2 letters (a non-empty subset of ``cruds``
in that order) or v1 words (``read`` = ``rs``, ``write`` = ``cud``, ``*`` = ``cruds``, the mapping SMART 2.0
gives). Only v2 scopes may carry a query (granular scopes such as ``patient/Observation.rs?category=...``).

Interactions map to one letter each:

======================================================  ======
read, vread, history-instance                           ``r``
search, search-type, search-system, history-type,       ``s``
history-system, history
create                                                  ``c``
update, patch                                           ``u``
delete                                                  ``d``
======================================================  ======

History of one instance needs ``r``: the client already knows the id and reads its past versions. History of a
type or of the system needs ``s``: like a search it enumerates resources the client cannot name.

Scopes the server does not understand are kept in ``Scopes.unrecognized`` and grant nothing, as the SMART spec
asks of servers (tokens may carry scopes meant for other resource servers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl

Context = Literal["patient", "user", "system"]
CONTEXTS: tuple[Context, ...] = ("patient", "user", "system")
LETTERS = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
INTERACTION_LETTER = {
    "c": "c",
    "r": "r",
    "u": "u",
    "d": "d",
    "s": "s",
    "create": "c",
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search": "s",
    "search-type": "s",
    "search-system": "s",
    "history": "s",
    "history-type": "s",
    "history-system": "s",
    "operation": "r",  # $everything and the like: reads of what the type's grants reach
    "validate": "r",  # $validate: would a write be accepted (reveals nothing stored but what the caller may read)
    "notify": "r",  # a Subscription notification's payload, read on its owner's behalf
}
#: Scopes with a meaning of their own (not resource scopes).
KNOWN_FLAGS = frozenset({"launch", "openid", "fhirUser", "profile", "offline_access", "online_access"})

_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]+)(?:\?(.*))?$")
_LAUNCH_CONTEXT = re.compile(r"^launch/[a-z][A-Za-z]*$")


@dataclass(frozen=True, slots=True)
class Scope:
    """One resource scope: who it speaks for (context), on what type, which interactions, under what query."""

    context: Context
    resource_type: str  # a resource type or "*"
    letters: frozenset[str]
    query: tuple[tuple[str, str], ...] = ()
    version: Literal[1, 2] = 2
    raw: str = ""

    def covers(self, letter: str, resource_type: str) -> bool:
        return letter in self.letters and self.resource_type in ("*", resource_type)


@dataclass(frozen=True, slots=True)
class Grant:
    """A scope that grants an interaction: its context and the search filters it imposes (AND-ed)."""

    context: Context
    query: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Permission:
    """The answer for one (interaction, type): allowed if any grant; the grants are OR-ed.

    The store enforces it as: match any grant, where a ``patient`` grant also restricts to the launch patient's
    compartment and a grant's query is added as search filters. ``unrestricted`` means some grant needs neither.
    """

    grants: tuple[Grant, ...] = ()

    @property
    def allowed(self) -> bool:
        return bool(self.grants)

    @property
    def unrestricted(self) -> bool:
        return any(g.context != "patient" and not g.query for g in self.grants)

    @property
    def contexts(self) -> frozenset[Context]:
        return frozenset(g.context for g in self.grants)


@dataclass(frozen=True, slots=True)
class Scopes:
    """The parsed ``scope`` of a token."""

    resources: tuple[Scope, ...] = ()
    flags: frozenset[str] = frozenset()  # launch, openid, fhirUser, offline_access, ...
    launch_contexts: frozenset[str] = frozenset()  # "patient" for launch/patient, ...
    unrecognized: tuple[str, ...] = ()
    raw: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, value: str | list[str] | tuple[str, ...] | None) -> Scopes:
        """Parse a space-separated scope string (or a list, as some servers put in ``scp``)."""
        items = list(dict.fromkeys(value.split() if isinstance(value, str) else list(value or ())))
        resources: list[Scope] = []
        flags: set[str] = set()
        launch: set[str] = set()
        unrecognized: list[str] = []
        for item in items:  # de-duplicated, order kept
            if item in KNOWN_FLAGS:
                flags.add(item)
            elif _LAUNCH_CONTEXT.match(item):
                launch.add(item.split("/", 1)[1])
            elif (scope := parse_resource_scope(item)) is not None:
                resources.append(scope)
            else:
                unrecognized.append(item)
        return cls(tuple(resources), frozenset(flags), frozenset(launch), tuple(unrecognized), tuple(items))

    @classmethod
    def everything(cls) -> Scopes:
        """Full access (development mode ``auth_mode=none`` only)."""
        return cls.parse("system/*.cruds")

    def permission(self, interaction: str, resource_type: str) -> Permission:
        letter = interaction_letter(interaction)
        grants = tuple(
            dict.fromkeys(Grant(s.context, s.query) for s in self.resources if s.covers(letter, resource_type))
        )
        return Permission(grants)

    def allows(self, interaction: str, resource_type: str) -> bool:
        return self.permission(interaction, resource_type).allowed

    @property
    def contexts(self) -> frozenset[Context]:
        return frozenset(s.context for s in self.resources)

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def __str__(self) -> str:
        return " ".join(self.raw)


def interaction_letter(interaction: str) -> str:
    try:
        return INTERACTION_LETTER[interaction]
    except KeyError:
        raise ValueError(f"unknown interaction {interaction!r}") from None


def parse_resource_scope(item: str) -> Scope | None:
    """One resource scope, or None if it is not one fhircrm understands."""
    match = _RESOURCE_SCOPE.match(item)
    if match is None:
        return None
    context, resource_type, permissions, query = match.groups()
    if permissions in V1_PERMISSIONS:
        if query is not None:
            return None  # v1 has no granular scopes
        return Scope(context, resource_type, frozenset(V1_PERMISSIONS[permissions]), (), 1, item)  # type: ignore[arg-type]
    if not _is_v2_letters(permissions):
        return None
    pairs: tuple[tuple[str, str], ...] = ()
    if query is not None:
        try:
            pairs = tuple(parse_qsl(query, keep_blank_values=False, strict_parsing=True))
        except ValueError:
            return None
        if not pairs:
            return None
    return Scope(context, resource_type, frozenset(permissions), pairs, 2, item)  # type: ignore[arg-type]


def _is_v2_letters(permissions: str) -> bool:
    """A non-empty subset of c, r, u, d, s in that order, each at most once."""
    position = -1
    for letter in permissions:
        index = LETTERS.find(letter)
        if index <= position:
            return False
        position = index
    return bool(permissions)
