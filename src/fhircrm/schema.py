"""Every table of fhircrm, on one MetaData: what Alembic compares migrations against."""

from fhircrm.bulk import tables as _bulk  # noqa: F401  (registers bulk_job, bulk_file)
from fhircrm.channels import tables as _channels  # noqa: F401  (registers channel_delivery, channel_inbound)
from fhircrm.ehr import tables as _ehr  # noqa: F401  (registers ehr_sync_state)
from fhircrm.fhir.schema import metadata
from fhircrm.indicators import tables as _indicators  # noqa: F401  (registers indicator_fact, indicator_daily)
from fhircrm.jobs import tables as _jobs  # noqa: F401  (registers the job table)
from fhircrm.messaging import tables as _messaging  # noqa: F401  (registers message_response)
from fhircrm.smart import tables as _smart  # noqa: F401  (registers smart_jti)
from fhircrm.smartapp import tables as _smartapp  # noqa: F401  (registers smartapp_session)
from fhircrm.subscriptions import tables as _subscriptions  # noqa: F401  (listener and publisher state)

__all__ = ["metadata"]
