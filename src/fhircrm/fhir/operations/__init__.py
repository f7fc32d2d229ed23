"""FHIR $operations as their packages contribute them: the store/REST core knows none of them by name.

Each package that answers an operation (``fhircrm.bulk``, ``fhircrm.messaging``, ``fhircrm.subscriptions``,
``fhircrm.security`` for ``$everything``) declares one ``Operations``: its router, mounted under ``/fhir`` before
the generic ``/{resource_type}/...`` routes, and what the CapabilityStatement lists for it. ``create_app`` hands the
list to ``fhircrm.fhir.capability`` and mounts the routers, so fhir never imports the feature packages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter

#: An operation as the CapabilityStatement names it: (name, canonical OperationDefinition).
Definition = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Operations:
    """One package's $operations: the routes and their CapabilityStatement entries."""

    router: APIRouter
    tag: str = "FHIR"
    system: tuple[Definition, ...] = ()  # on the whole server (``rest.operation``)
    by_type: Mapping[str, tuple[Definition, ...]] = field(default_factory=dict)  # ``rest.resource.operation``
    #: ``CapabilityStatement.messaging`` entries for the server's base URL (FHIR messaging only)
    messaging: Callable[[str], list[dict]] | None = None
