"""Every table of fhircrm, on one MetaData: what Alembic compares migrations against."""

from fhircrm.fhir.sql.tables import metadata
from fhircrm.jobs import tables as _jobs  # noqa: F401  (registers the job table)
from fhircrm.smart import tables as _smart  # noqa: F401  (registers smart_jti)

__all__ = ["metadata"]
