"""Tables of both directions of subscriptions."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import PrimaryKey, metadata

# --- Listening to the EHR ---------------------------------------------------------------------------------------

#: Per EHR subscription (by our name for it): the highest event number processed and when we last heard.
ehr_subscription_state = sa.Table(
    "ehr_subscription_state",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("ehr_subscription", sa.String(255), nullable=True),  # Subscription/<id> at the EHR
    sa.Column("last_event", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_status", sa.String(32), nullable=True),
    sa.Column("last_received_at", sa.DateTime, nullable=True),  # naive UTC
)

#: Event numbers already processed per subscription: a repeat is dropped, a hole is a gap to fill.
ehr_notification_event = sa.Table(
    "ehr_notification_event",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("number", sa.BigInteger, primary_key=True),
    sa.Column("processed_at", sa.DateTime, nullable=False),
    # The notification (its SubscriptionStatus or Bundle id) that brought the number: the same number in another
    # notification is a counter that started again (an EHR restart), not a duplicate.
    sa.Column("status_id", sa.String(64), nullable=True),
)

#: What each of our EHR Subscriptions (or each event left to polling) is expected to do, and whether it does it:
#: written by ``subscriptions register``, touched by the listener on every notification, judged by the watch.
ehr_subscription_watch = sa.Table(
    "ehr_subscription_watch",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),  # template name, or polling-<event>
    sa.Column("event", sa.String(64), nullable=False),  # appointment-booked ...
    sa.Column("kind", sa.String(16), nullable=False),  # topic-based | criteria | polling
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("criteria", sa.String(500), nullable=True),  # the search that finds what it should notify
    sa.Column("ehr_subscription", sa.String(255), nullable=True),  # its id at the EHR
    sa.Column("registered_at", sa.DateTime, nullable=False),  # naive UTC, as the other columns
    sa.Column("handshake_at", sa.DateTime, nullable=True),
    sa.Column("heartbeat_seconds", sa.Integer, nullable=True),
    sa.Column("last_heard_at", sa.DateTime, nullable=True),
    sa.Column("flagged_at", sa.DateTime, nullable=True),
    sa.Column("flag_reason", sa.String(500), nullable=True),
    sa.Column("task_id", sa.String(64), nullable=True),  # the Task for IT while flagged
)

# --- Publishing our own Subscriptions ----------------------------------------------------------------------------

#: Counters of one of our Subscriptions (by its id): events matched, deliveries made and failed, last error.
subscription_counter = sa.Table(
    "subscription_counter",
    metadata,
    sa.Column("subscription_id", sa.String(64), primary_key=True),
    sa.Column("events_since_start", sa.BigInteger, nullable=False, default=0),
    sa.Column("delivered", sa.BigInteger, nullable=False, default=0),
    sa.Column("failed", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_error", sa.String(2000), nullable=True),  # HTTP status or error class, never PHI
    sa.Column("last_delivered_at", sa.DateTime, nullable=True),
)

#: One notification to deliver (an event, or a handshake): the outbox row its delivery jobs work on.
subscription_delivery = sa.Table(
    "subscription_delivery",
    metadata,
    sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # event-notification | handshake
    sa.Column("event_number", sa.BigInteger, nullable=True),
    sa.Column("focus", sa.String(140), nullable=True),  # Type/id
    sa.Column("focus_version", sa.Integer, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | dead | cancelled
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String(2000), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Index(None, "subscription_id", "event_number"),
    sa.Index(None, "subscription_id", "status"),
)

#: Who wrote one of our Subscriptions through the API (or fhircrm itself: kind ``service``), by its id: the access
#: a notification is evaluated under when it is delivered (``fhircrm.subscriptions.owners``). Scopes as granted.
subscription_owner = sa.Table(
    "subscription_owner",
    metadata,
    sa.Column("subscription_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # patient | user | system | service
    sa.Column("subject", sa.String(255), nullable=True),
    sa.Column("client_id", sa.String(255), nullable=True),
    sa.Column("fhir_user", sa.String(255), nullable=True),  # Practitioner/7 (the fhirUser claim)
    sa.Column("patient", sa.String(64), nullable=True),  # launch patient id
    sa.Column("scopes", sa.Text, nullable=False),  # the raw scope string
    sa.Column("issuer", sa.String(500), nullable=True),
    sa.Column("recorded_at", sa.DateTime, nullable=False),  # naive UTC
)
