"""The inbox's codes: defined with the thread model in ``fhircrm.channels.thread_codes`` (channels write
threads when messages come in; the inbox reads and works them), named here for the inbox's readers."""

from __future__ import annotations

from fhircrm.channels.thread_codes import (
    ADDRESS_INPUT as ADDRESS_INPUT,
)
from fhircrm.channels.thread_codes import (
    CHANNEL_INPUT as CHANNEL_INPUT,
)
from fhircrm.channels.thread_codes import (
    CRM_ROLE_SYSTEM as CRM_ROLE_SYSTEM,
)
from fhircrm.channels.thread_codes import (
    FIRST_RESPONSE_AT_URL as FIRST_RESPONSE_AT_URL,
)
from fhircrm.channels.thread_codes import (
    FIRST_RESPONSE_DUE_URL as FIRST_RESPONSE_DUE_URL,
)
from fhircrm.channels.thread_codes import (
    INBOX_SYSTEM as INBOX_SYSTEM,
)
from fhircrm.channels.thread_codes import (
    REASON_SYSTEM as REASON_SYSTEM,
)
from fhircrm.channels.thread_codes import (
    RESOLUTION_DUE_URL as RESOLUTION_DUE_URL,
)
from fhircrm.channels.thread_codes import (
    RESOLUTION_OUTPUT as RESOLUTION_OUTPUT,
)
from fhircrm.channels.thread_codes import (
    SLA_ALERT_URL as SLA_ALERT_URL,
)
from fhircrm.channels.thread_codes import (
    SLA_MINUTES as SLA_MINUTES,
)
from fhircrm.channels.thread_codes import (
    SLA_SYSTEM as SLA_SYSTEM,
)
from fhircrm.channels.thread_codes import (
    STATE_SYSTEM as STATE_SYSTEM,
)
from fhircrm.channels.thread_codes import (
    STATES as STATES,
)
from fhircrm.channels.thread_codes import (
    TEAM_URL as TEAM_URL,
)
from fhircrm.channels.thread_codes import (
    TOPIC_INPUT as TOPIC_INPUT,
)
