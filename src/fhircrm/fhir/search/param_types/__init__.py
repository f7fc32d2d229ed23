"""One object per search parameter type (``ParamType``, in ``base.py``): its index table, how FHIR values become
its index rows, its SQL condition, its modifiers and its sort columns, each in the type's own module.

The registry indexes a parameter if and only if its type is in ``PARAM_TYPES``: ``composite`` and ``special``
have no object, so their parameters are neither indexed nor published. Changing a type is its module; adding one
is a module, a line below and its table in ``fhir/sql/tables.py`` (with a migration).
"""

from __future__ import annotations

from fhircrm.fhir.search.param_types.base import ParamType
from fhircrm.fhir.search.param_types.date import DATE
from fhircrm.fhir.search.param_types.number import NUMBER
from fhircrm.fhir.search.param_types.quantity import QUANTITY
from fhircrm.fhir.search.param_types.reference import REFERENCE
from fhircrm.fhir.search.param_types.string import STRING
from fhircrm.fhir.search.param_types.token import TOKEN
from fhircrm.fhir.search.param_types.uri import URI

#: by FHIR code, in the order the CapabilityStatement and the writer go through them
PARAM_TYPES: dict[str, ParamType] = {t.name: t for t in (TOKEN, STRING, DATE, REFERENCE, NUMBER, QUANTITY, URI)}

__all__ = ["DATE", "NUMBER", "PARAM_TYPES", "QUANTITY", "REFERENCE", "STRING", "TOKEN", "URI", "ParamType"]
