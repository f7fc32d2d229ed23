"""CRM activity around appointments: reminders, replies, NPS responses and work-list Tasks."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import fhircrm.demo.codes as c
from fhircrm.demo.patients import PatientProfile
from fhircrm.demo.roster import ORG_ID, ORG_NAME, Site, StaffMember
from fhircrm.demo.timeutil import CLINIC_TZ, iso

_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# NPS 0..10 weights: ~60% promoters, ~20% detractors (NPS around +40, typical of clinics).
NPS_WEIGHTS = (0.02, 0.01, 0.02, 0.02, 0.02, 0.05, 0.05, 0.08, 0.13, 0.22, 0.38)

_COMMENTS = {
    "promoter": {
        "en": (
            "Friendly staff and the clinician really listened.",
            "Quick check-in and clear explanations.",
            "Easy to book and the reminder was helpful.",
            "Always a good experience at this clinic.",
        ),
        "es": ("Personal muy amable y atento.", "Me explicaron todo con claridad."),
        "pt": ("Equipe muito atenciosa.", "Atendimento rápido e claro."),
    },
    "passive": {
        "en": (
            "Good care, but the waiting room was crowded.",
            "Visit was fine; parking was difficult.",
            "Fine overall, a bit of a wait at check-in.",
        ),
        "es": ("Buena atención, pero esperé bastante.",),
        "pt": ("Bom atendimento, mas a espera foi longa.",),
    },
    "detractor": {
        "en": (
            "Waited over 40 minutes past my appointment time.",
            "Hard to reach the clinic by phone.",
            "The visit felt rushed.",
            "Billing was confusing.",
        ),
        "es": ("Esperé más de 40 minutos.", "Fue difícil comunicarme por teléfono."),
        "pt": ("Esperei mais de 40 minutos.", "Difícil falar com a clínica por telefone."),
    },
}

COMPLAINT_TOPICS: tuple[tuple[str, str], ...] = (
    ("wait-time", "Waited well past the scheduled appointment time without an update."),
    ("access", "Could not get through on the phone line to reschedule."),
    ("billing", "Unexpected charge on the statement after the visit."),
    ("communication", "Felt the visit was rushed and questions were not answered."),
    ("reminders", "Received duplicate reminder messages for the same appointment."),
    ("facility", "Parking was full and the entrance signage was unclear."),
)

_CONFIRM_REPLIES = {
    "en": ("C", "C", "c", "C thanks", "Confirmed"),
    "es": ("C", "Confirmo", "Sí, confirmo"),
    "pt": ("C", "Confirmado", "Sim, confirmo"),
}


def _when_text(start: dt.datetime, language: str) -> str:
    local = start.astimezone(CLINIC_TZ)
    if language == "en":
        hour = local.hour % 12 or 12
        ampm = "AM" if local.hour < 12 else "PM"
        return (
            f"{_WEEKDAY_EN[local.weekday()]} {local.day} {_MONTH_EN[local.month - 1]} "
            f"at {hour}:{local.minute:02d} {ampm}"
        )
    return f"{local.day:02d}/{local.month:02d} {local.hour:02d}:{local.minute:02d}"


def reminder_text(language: str, channel: str, start: dt.datetime, site: Site) -> str:
    """Localised reminder wording; voice calls use key presses instead of replies."""
    when = _when_text(start, language)
    if language == "es":
        text = f"Recordatorio: su cita en {site.name} es el {when}."
        action = (
            "Marque 1 para confirmar o 2 para reprogramar."
            if channel == "voice"
            else "Responda C para confirmar o R para reprogramar."
        )
    elif language == "pt":
        text = f"Lembrete: sua consulta na {site.name} é em {when}."
        action = (
            "Digite 1 para confirmar ou 2 para remarcar."
            if channel == "voice"
            else "Responda C para confirmar ou R para remarcar."
        )
    else:
        text = f"Reminder: your appointment at {site.name} on {when}."
        action = (
            "Press 1 to confirm or 2 to reschedule." if channel == "voice" else "Reply C to confirm or R to reschedule."
        )
    return f"{text} {action}"


def reminder(
    p: PatientProfile,
    comm_id: str,
    appointment_id: str,
    start: dt.datetime,
    site: Site,
    sent: dt.datetime,
) -> dict[str, Any]:
    """Outbound appointment reminder on the patient's preferred channel."""
    return {
        "resourceType": "Communication",
        "id": comm_id,
        "meta": c.demo_meta(),
        "basedOn": [c.ref("Appointment", appointment_id)],
        "status": "completed",
        "category": [
            c.concept(c.COMMUNICATION_CATEGORY, "reminder", "Reminder"),
            c.channel_concept(p.channel),
        ],
        "medium": [c.medium_concept(p.channel)],
        "subject": c.ref("Patient", p.id),
        "about": [c.ref("Appointment", appointment_id)],
        "sent": iso(sent),
        "recipient": [c.ref("Patient", p.id)],
        "sender": c.ref("Organization", ORG_ID, ORG_NAME),
        "payload": [{"contentString": reminder_text(p.language, p.channel, start, site)}],
    }


def confirmation_reply(
    p: PatientProfile,
    rng: random.Random,
    comm_id: str,
    reminder_id: str,
    appointment_id: str,
    sent: dt.datetime,
) -> dict[str, Any]:
    """Inbound patient reply confirming the appointment (text channels only)."""
    return {
        "resourceType": "Communication",
        "id": comm_id,
        "meta": c.demo_meta(),
        "inResponseTo": [c.ref("Communication", reminder_id)],
        "status": "completed",
        "category": [c.channel_concept(p.channel)],
        "medium": [c.medium_concept(p.channel)],
        "subject": c.ref("Patient", p.id),
        "about": [c.ref("Appointment", appointment_id)],
        "sent": iso(sent),
        "received": iso(sent + dt.timedelta(seconds=rng.randint(1, 20))),
        "recipient": [c.ref("Organization", ORG_ID, ORG_NAME)],
        "sender": c.ref("Patient", p.id),
        "payload": [{"contentString": rng.choice(_CONFIRM_REPLIES[p.language])}],
    }


def draw_nps(rng: random.Random) -> int:
    return rng.choices(range(11), weights=NPS_WEIGHTS)[0]


def nps_band(score: int) -> str:
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def nps_response(
    p: PatientProfile,
    rng: random.Random,
    qr_id: str,
    encounter_id: str,
    authored: dt.datetime,
    score: int,
) -> dict[str, Any]:
    """Completed NPS survey; about 45% of respondents add a comment."""
    items: list[dict[str, Any]] = [{"linkId": "nps", "text": c.NPS_ITEM_TEXT, "answer": [{"valueInteger": score}]}]
    if rng.random() < 0.45:
        comment = rng.choice(_COMMENTS[nps_band(score)][p.language])
        items.append(
            {
                "linkId": "comment",
                "text": c.NPS_COMMENT_TEXT,
                "answer": [{"valueString": comment}],
            }
        )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": qr_id,
        "meta": c.demo_meta(),
        "questionnaire": c.NPS_QUESTIONNAIRE_URL,
        "status": "completed",
        "subject": c.ref("Patient", p.id),
        "encounter": c.ref("Encounter", encounter_id),
        "authored": iso(authored),
        "author": c.ref("Patient", p.id),
        "source": c.ref("Patient", p.id),
        "item": items,
    }


def _task(
    task_id: str,
    code: str,
    p: PatientProfile,
    owner: StaffMember,
    authored: dt.datetime,
    due: dt.datetime,
    status: str,
    business_status: str,
    priority: str,
    description: str,
    focus: dict[str, Any],
) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": task_id,
        "meta": c.demo_meta(),
        "status": status,
        "businessStatus": c.concept(
            c.TASK_BUSINESS_STATUS_SYSTEM, business_status, c.TASK_BUSINESS_STATUS[business_status]
        ),
        "intent": "order",
        "priority": priority,
        "code": c.concept(c.TASK_TYPE_SYSTEM, code, c.TASK_TYPES[code]),
        "description": description,
        "focus": focus,
        "for": c.ref("Patient", p.id),
        "authoredOn": iso(authored),
        "lastModified": iso(authored),
        "owner": c.ref("PractitionerRole", owner.role_id, owner.display),
        "restriction": {"period": {"end": iso(due)}},
    }


def complaint_task(
    p: PatientProfile,
    rng: random.Random,
    task_id: str,
    encounter_id: str,
    owner: StaffMember,
    authored: dt.datetime,
    now: dt.datetime,
    urgent: bool,
) -> dict[str, Any]:
    """A complaint logged after a visit; older complaints are further along."""
    topic, description = rng.choice(COMPLAINT_TOPICS)
    age_days = (now - authored).days
    if age_days > 10:
        status = "completed" if rng.random() < 0.8 else "in-progress"
    elif age_days > 3:
        status = rng.choices(("completed", "in-progress", "requested"), (0.2, 0.6, 0.2))[0]
    else:
        status = "requested" if rng.random() < 0.7 else "in-progress"
    business = {"requested": "new", "in-progress": "investigating", "completed": "resolved"}
    task = _task(
        task_id,
        "complaint",
        p,
        owner,
        authored,
        authored + dt.timedelta(days=5),
        status,
        business[status],
        "urgent" if urgent else "routine",
        description,
        c.ref("Encounter", encounter_id),
    )
    task["requester"] = c.ref("Patient", p.id)
    task["reasonCode"] = {"text": topic}
    if status != "requested":
        started = authored + dt.timedelta(hours=rng.randint(2, 48))
        started = min(started, now)
        period: dict[str, Any] = {"start": iso(started)}
        modified = started
        if status == "completed":
            ended = min(started + dt.timedelta(hours=rng.randint(4, 120)), now)
            period["end"] = iso(ended)
            modified = ended
        task["executionPeriod"] = period
        task["lastModified"] = iso(modified)
    return task


def callback_task(
    p: PatientProfile,
    task_id: str,
    appointment_id: str,
    owner: StaffMember,
    authored: dt.datetime,
    start: dt.datetime,
    risk: float,
) -> dict[str, Any]:
    """Work-list item: call an unconfirmed, high-risk upcoming appointment."""
    day_before_close = dt.datetime.combine(start.date() - dt.timedelta(days=1), dt.time(17, 0), tzinfo=CLINIC_TZ)
    due = day_before_close if day_before_close > authored else start - dt.timedelta(hours=2)
    urgent = (start - authored) <= dt.timedelta(days=2)
    return _task(
        task_id,
        "callback",
        p,
        owner,
        authored,
        due,
        "requested",
        "new",
        "urgent" if urgent else "routine",
        f"Unconfirmed appointment with high no-show risk ({risk:.0%}); call to confirm or reschedule.",
        c.ref("Appointment", appointment_id),
    )


def reschedule_task(
    p: PatientProfile,
    rng: random.Random,
    task_id: str,
    appointment_id: str,
    owner: StaffMember,
    authored: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    """Work-list item: offer a new appointment after a no-show."""
    if now - authored < dt.timedelta(days=2):
        status, business = "requested", "new"
    else:
        status, business = rng.choices(
            (("requested", "new"), ("in-progress", "attempted"), ("completed", "no-answer")),
            (0.3, 0.45, 0.25),
        )[0]
    task = _task(
        task_id,
        "reschedule",
        p,
        owner,
        authored,
        authored + dt.timedelta(days=3),
        status,
        business,
        "routine",
        "Patient did not attend; contact to offer a new appointment.",
        c.ref("Appointment", appointment_id),
    )
    if status != "requested":
        started = min(authored + dt.timedelta(hours=rng.randint(12, 48)), now)
        period: dict[str, Any] = {"start": iso(started)}
        if status == "completed":
            period["end"] = iso(min(started + dt.timedelta(days=2), now))
        task["executionPeriod"] = period
        task["lastModified"] = period.get("end", period["start"])
    return task
