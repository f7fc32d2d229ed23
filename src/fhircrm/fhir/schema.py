"""The one MetaData every fhircrm table is declared on, and the column types the store's tables use, for the
packages that keep small operational tables of their own (jobs, channels, SMART, EHR sync, subscriptions).

Public so that those ``tables.py`` modules need nothing of ``fhircrm.fhir.sql``, which only ``fhircrm.fhir``
imports (``tests/test_import_rules.py``): the store's tables are read through the store.
"""

from __future__ import annotations

from fhircrm.fhir.sql.tables import Content, PrimaryKey, metadata

__all__ = ["Content", "PrimaryKey", "metadata"]
