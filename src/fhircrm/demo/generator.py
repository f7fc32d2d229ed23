"""Deterministic synthetic outpatient clinic for demos, load tests and analytics checks.

`generate_clinic` streams FHIR R4 resources (plain JSON dicts) in batches that can each
be POSTed as a transaction Bundle (see `to_transaction_bundle`). Every resource has a
deterministic client id and is written with PUT, so loading the same spec twice
updates in place instead of duplicating data.

Generation is lazy and O(patients): each patient's resources are produced from a
per-patient random stream, and the only shared state is the clinicians' slot grid.
Nothing reads the wall clock: all timestamps derive from `ClinicSpec.today`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fhircrm.demo.codes as c
import fhircrm.demo.engagement as engagement
from fhircrm.demo.noshow_drivers import NoShowFactors, noshow_probability
from fhircrm.demo.patients import PatientProfile, district_of, draw_profile, registration_resources
from fhircrm.demo.roster import (
    ORG_ID,
    Roster,
    StaffMember,
    build_roster,
    infrastructure_resources,
)
from fhircrm.demo.scheduling import Booking, SlotBook, slot_resource
from fhircrm.demo.timeutil import is_weekday, iso, local, weekdays_between

FUTURE_DAYS = 30
MAX_BATCH = 500
REMINDER_COVERAGE = 0.7  # share of eligible appointments whose reminder was sent
SURVEY_RATE = 0.15  # share of attended visits that produce an NPS response
CALLBACK_RISK_THRESHOLD = 0.30
CALLBACK_HORIZON_DAYS = 7
RESCHEDULE_LOOKBACK_DAYS = 14
FULL_HISTORY_DAYS = 60  # shorter windows get proportionally fewer past visits per patient

_APPOINTMENT_TYPES = {
    "ROUTINE": "Routine appointment - default if not valued",
    "FOLLOWUP": "A follow up visit from a previous appointment",
    "WALKIN": "A previously unscheduled walk-in visit",
}
_CANCEL_REASONS = (
    ("pat", "Patient", 0.55),
    ("pat-cpp", "Patient: Canceled via Patient Portal", 0.25),
    ("prov", "Provider", 0.13),
    ("oth-weath", "Other: Weather", 0.07),
)


@dataclass(frozen=True, kw_only=True)
class ClinicSpec:
    """What to generate. `today` is required so output never depends on the wall clock."""

    patients: int = 200
    days: int = 120  # history window before `today`; FUTURE_DAYS of bookings follow it
    seed: int = 7
    today: dt.date

    def __post_init__(self) -> None:
        if self.patients < 0:
            raise ValueError("patients must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if isinstance(self.today, dt.datetime) or not isinstance(self.today, dt.date):
            raise TypeError("today must be a datetime.date")


@dataclass
class _World:
    """Shared, read-mostly context of one generation run."""

    spec: ClinicSpec
    roster: Roster
    book: SlotBook
    now: dt.datetime  # all generated activity happens before this instant
    past_first: dt.date
    past_last: dt.date
    future_first: dt.date
    future_last: dt.date

    @classmethod
    def create(cls, spec: ClinicSpec) -> _World:
        past_first = spec.today - dt.timedelta(days=spec.days)
        past_last = spec.today - dt.timedelta(days=1)
        future_first = spec.today + dt.timedelta(days=1)
        future_last = spec.today + dt.timedelta(days=FUTURE_DAYS)
        roster = build_roster(
            spec.seed,
            spec.patients,
            weekdays_between(past_first, past_last),
            weekdays_between(future_first, future_last),
            past_visits=5.5 * _history_scale(spec.days),
        )
        return cls(
            spec=spec,
            roster=roster,
            book=SlotBook(),
            now=local(spec.today, 7 * 60),
            past_first=past_first,
            past_last=past_last,
            future_first=future_first,
            future_last=future_last,
        )


@dataclass
class _Visit:
    """One planned appointment of a patient, before ids and resources are assigned."""

    line: c.ServiceLine
    booking: Booking
    created: dt.datetime
    walk_in: bool
    cancelled: bool
    future: bool
    future_status: str = "booked"
    number: int = 0
    status: str = ""
    resources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lead_days(self) -> float:
        return (self.booking.start - self.created).total_seconds() / 86400


# --- public API ------------------------------------------------------------------------


def generate_clinic(spec: ClinicSpec) -> Iterator[list[dict[str, Any]]]:
    """Yield FHIR R4 resources in dependency order, in batches of at most MAX_BATCH.

    Batch 1.. hold the network (organisations, sites, services, staff, schedules, the
    NPS Questionnaire); then each patient's resources stay together in one batch so
    intra-patient references resolve within a transaction; free future slots come last.
    """
    world = _World.create(spec)
    batcher = _Batcher(MAX_BATCH)
    horizon_start = iso(local(world.past_first, 0))
    horizon_end = iso(local(world.future_last, 23 * 60 + 59))
    yield from batcher.add_all(infrastructure_resources(world.roster, horizon_start, horizon_end, world.past_first))
    yield from batcher.flush()
    for index in range(1, spec.patients + 1):
        yield from batcher.add_group(_patient_resources(world, index))
    yield from batcher.flush()
    yield from batcher.add_all(_free_future_slots(world))
    yield from batcher.flush()


def to_transaction_bundle(resources: list[dict[str, Any]], base_url: str | None = None) -> dict[str, Any]:
    """Wrap a batch as a transaction of PUTs to client ids, so re-running never duplicates data.

    With `base_url` each entry also gets an absolute `fullUrl`.
    """
    entries = []
    for resource in resources:
        url = f"{resource['resourceType']}/{resource['id']}"
        entry: dict[str, Any] = {"resource": resource, "request": {"method": "PUT", "url": url}}
        if base_url:
            entry = {"fullUrl": f"{base_url.rstrip('/')}/{url}", **entry}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def iter_resources(spec: ClinicSpec) -> Iterator[dict[str, Any]]:
    """Flatten `generate_clinic` for callers that do not need the batching."""
    for batch in generate_clinic(spec):
        yield from batch


# --- batching --------------------------------------------------------------------------


class _Batcher:
    """Accumulates resources into batches without splitting a patient's group."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer: list[dict[str, Any]] = []

    def add_group(self, group: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        if self.buffer and len(self.buffer) + len(group) > self.limit:
            yield from self.flush()
        if len(group) > self.limit:  # never happens with the per-patient caps
            yield from self.add_all(group)
            return
        self.buffer.extend(group)

    def add_all(self, resources: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        for resource in resources:
            self.buffer.append(resource)
            if len(self.buffer) >= self.limit:
                yield from self.flush()

    def flush(self) -> Iterator[list[dict[str, Any]]]:
        if self.buffer:
            batch, self.buffer = self.buffer, []
            yield batch


# --- per patient ------------------------------------------------------------------------


def _history_scale(days: int) -> float:
    """3-8 past visits fit a 60+ day window; a one-week window should not hold eight."""
    return min(1.0, days / FULL_HISTORY_DAYS)


def _line_weights(p: PatientProfile) -> dict[str, float]:
    if p.age < 18:
        return {"pediatrics": 0.85, "dermatology": 0.10, "physiotherapy": 0.05}
    return {
        "primary-care": 0.55,
        "cardiology": 0.06 + 0.20 * ("htn" in p.conditions) + 0.07 * ("dm" in p.conditions),
        "dermatology": 0.12,
        "physiotherapy": 0.16 + 0.07 * (p.age >= 65),
    }


def _draw_line(rng: random.Random, weights: dict[str, float]) -> c.ServiceLine:
    code = rng.choices(list(weights), weights=list(weights.values()))[0]
    return c.SERVICE_LINE_BY_CODE[code]


def _candidates(
    world: _World,
    rng: random.Random,
    p: PatientProfile,
    line: c.ServiceLine,
    preferred: dict[str, StaffMember],
) -> list[StaffMember]:
    """Preferred clinician first (continuity of care), then a few colleagues."""
    local_staff = world.roster.by_line_site.get((line.code, p.site.index))
    pool = local_staff or world.roster.by_line[line.code]
    if line.code not in preferred:
        preferred[line.code] = rng.choice(pool)
    first = preferred[line.code]
    others = [m for m in rng.sample(pool, min(len(pool), 4)) if m is not first]
    if len(others) < 3 and len(world.roster.by_line[line.code]) > len(pool):
        everyone = world.roster.by_line[line.code]
        others += [m for m in rng.sample(everyone, min(len(everyone), 3)) if m is not first]
    return [first, *others]


def _draw_lead_days(rng: random.Random, allow_walk_in: bool) -> int:
    """Booking lead time: ~8% walk-ins, 22% 1-2 days, 38% 3-14 days, 32% longer."""
    u = rng.random()
    if allow_walk_in and u < 0.08:
        return 0
    if u < 0.30:
        return rng.randint(1, 2)
    if u < 0.68:
        return rng.randint(3, 14)
    return min(15 + int(rng.expovariate(1 / 14)), 90)


def _cancel_probability(lead_days: int) -> float:
    if lead_days == 0:
        return 0.0
    if lead_days <= 2:
        return 0.04
    return 0.08 if lead_days <= 14 else 0.115


def _plan_visit(
    world: _World,
    rng: random.Random,
    p: PatientProfile,
    line: c.ServiceLine,
    preferred: dict[str, StaffMember],
    busy_days: set[dt.date],
    *,
    future: bool,
) -> _Visit | None:
    """Pick a line-appropriate slot near a random day; None if the grid is full nearby."""
    if future:
        first, last = world.future_first, world.future_last
    else:
        first, last = world.past_first, world.past_last
    wanted = first + dt.timedelta(days=rng.randrange((last - first).days + 1))
    lead = _draw_lead_days(rng, allow_walk_in=not future)
    cancelled = not future and rng.random() < _cancel_probability(lead)
    booking = world.book.book(
        rng,
        _candidates(world, rng, p, line, preferred),
        wanted,
        first,
        last,
        tentative_only=cancelled,
        avoid_days=busy_days,
    )
    if booking is None:
        return None
    busy_days.add(booking.day)
    if lead == 0:
        created = booking.start - dt.timedelta(minutes=rng.randint(10, 50))
    else:
        created_day = booking.day - dt.timedelta(days=lead)
        if future and created_day >= world.spec.today:
            created_day = world.spec.today - dt.timedelta(days=1 + rng.randrange(3))
        created = local(created_day, rng.randint(7 * 60 + 30, 19 * 60 + 30))
    visit = _Visit(line=line, booking=booking, created=created, walk_in=lead == 0, cancelled=cancelled, future=future)
    if future:
        visit.future_status = rng.choices(("booked", "pending", "proposed"), (0.88, 0.07, 0.05))[0]
    return visit


def _reminder_time(rng: random.Random, visit: _Visit, now: dt.datetime) -> dt.datetime | None:
    """Reminders go out two days ahead (mid-morning), or the evening before if booked late."""
    day = visit.booking.day
    for when in (
        local(day - dt.timedelta(days=2), 10 * 60 + rng.randrange(120)),
        local(day - dt.timedelta(days=1), 17 * 60 + rng.randrange(60)),
    ):
        if visit.created < when <= now:
            return when
    return None


def _patient_resources(world: _World, index: int) -> list[dict[str, Any]]:
    spec = world.spec
    rng = random.Random(f"{spec.seed}:patient:{index}")
    p = draw_profile(index, spec.seed, rng, spec.today, spec.days)
    preferred: dict[str, StaffMember] = {}
    home_line = c.SERVICE_LINE_BY_CODE["pediatrics" if p.age < 18 else "primary-care"]
    gp = _candidates(world, rng, p, home_line, preferred)[0]
    out = registration_resources(p, rng, gp)

    weights = _line_weights(p)
    main_line = _draw_line(rng, weights)
    visits: list[_Visit] = []
    busy_days: set[dt.date] = set()  # one visit per day per patient
    n_past = round(rng.randint(3, 8) * _history_scale(spec.days))
    n_future = rng.choices((0, 1, 2), (0.3, 0.45, 0.25))[0]
    for k in range(n_past + n_future):
        line = main_line if rng.random() < 0.6 else _draw_line(rng, weights)
        visit = _plan_visit(world, rng, p, line, preferred, busy_days, future=k >= n_past)
        if visit is not None:
            visits.append(visit)
    visits.sort(key=lambda v: (v.booking.start, v.booking.clinician.index))
    for number, visit in enumerate(visits, start=1):
        visit.number = number

    prior_noshows = 0
    seen_lines: set[str] = set()
    for position, visit in enumerate(visits):
        appt_type = (
            "WALKIN"
            if visit.walk_in
            else ("FOLLOWUP" if visit.line.code in seen_lines and rng.random() < 0.7 else "ROUTINE")
        )
        if not visit.cancelled:
            seen_lines.add(visit.line.code)
        _emit_visit(world, rng, p, visit, appt_type, prior_noshows, visits[position + 1 :])
        if visit.status == "noshow":
            prior_noshows += 1
        out.extend(visit.resources)
    return out


def _emit_visit(
    world: _World,
    rng: random.Random,
    p: PatientProfile,
    visit: _Visit,
    appt_type: str,
    prior_noshows: int,
    later: list[_Visit],
) -> None:
    """Decide the visit's outcome and build its Slot, Appointment and follow-on resources."""
    appt_id = f"demo-appt-{p.key}-{visit.number:02d}"
    suffix = f"{p.key}-{visit.number:02d}"
    booking = visit.booking
    clinician = booking.clinician
    res = visit.resources

    sent = None if visit.cancelled or visit.walk_in else _reminder_time(rng, visit, world.now)
    reminded = sent is not None and rng.random() < REMINDER_COVERAGE
    factors = NoShowFactors(
        lead_days=visit.lead_days,
        prior_noshows=prior_noshows,
        age_years=p.age,
        reminded=reminded,
        walk_in=visit.walk_in,
        personal_propensity=p.propensity,
        chronic=bool(p.conditions),
        self_pay=not p.insured,
        district=district_of(p),
    )
    risk = noshow_probability(factors)
    if visit.future:
        visit.status = visit.future_status
    elif visit.cancelled:
        visit.status = "cancelled"
    else:
        visit.status = "noshow" if rng.random() < risk else "fulfilled"

    slot_status = {"booked": "busy", "fulfilled": "busy", "noshow": "busy"}.get(visit.status, "busy-tentative")
    if visit.status != "cancelled":
        res.append(slot_resource(booking, slot_status))
    cancel_reason = None
    if visit.status == "cancelled":
        cancel_reason = rng.choices(_CANCEL_REASONS, [w for _, _, w in _CANCEL_REASONS])[0]
    res.append(_appointment(p, visit, appt_id, appt_type, cancel_reason))

    confirmed = False
    if reminded and sent is not None:
        reminder_id = f"demo-comm-{suffix}-rem"
        res.append(engagement.reminder(p, reminder_id, appt_id, booking.start, clinician.site, sent))
        if p.channel != "voice":
            # Attenders confirm far more often than those who later miss the visit.
            p_confirm = max(0.05, 0.5 - risk) if visit.future else (0.08 if visit.status == "noshow" else 0.4)
            reply_at = sent + dt.timedelta(minutes=rng.randint(2, 600))
            if rng.random() < p_confirm and reply_at < min(booking.start, world.now):
                confirmed = True
                res.append(
                    engagement.confirmation_reply(p, rng, f"demo-comm-{suffix}-rep", reminder_id, appt_id, reply_at)
                )

    coordinator = world.roster.coordinator_for(clinician.site)
    if visit.status == "fulfilled":
        _emit_encounter_and_feedback(world, rng, p, visit, appt_id, suffix, coordinator)
    elif visit.status == "noshow":
        recent = booking.day >= world.spec.today - dt.timedelta(days=RESCHEDULE_LOOKBACK_DAYS)
        rebooked = any(not v.cancelled for v in later)
        if recent and not rebooked:
            authored = booking.end + dt.timedelta(minutes=rng.randint(30, 180))
            res.append(
                engagement.reschedule_task(
                    p,
                    rng,
                    f"demo-task-{suffix}-reschedule",
                    appt_id,
                    coordinator,
                    min(authored, world.now),
                    world.now,
                )
            )
    elif (
        visit.status == "booked"
        and not confirmed
        and risk >= CALLBACK_RISK_THRESHOLD
        and booking.day <= world.spec.today + dt.timedelta(days=CALLBACK_HORIZON_DAYS)
    ):
        authored = world.now - dt.timedelta(minutes=rng.randint(30, 240))
        res.append(
            engagement.callback_task(
                p, f"demo-task-{suffix}-callback", appt_id, coordinator, authored, booking.start, risk
            )
        )


def _appointment(
    p: PatientProfile,
    visit: _Visit,
    appt_id: str,
    appt_type: str,
    cancel_reason: tuple[str, str, float] | None,
) -> dict[str, Any]:
    booking = visit.booking
    clinician = booking.clinician
    site = clinician.site
    line = visit.line
    waiting = visit.status in ("proposed", "pending")
    appt: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appt_id,
        "meta": c.demo_meta(),
        "status": visit.status,
    }
    if cancel_reason is not None:
        code, display, _ = cancel_reason
        appt["cancelationReason"] = c.concept(c.CANCELLATION_REASON, code, display)
    appt.update(
        {
            "serviceType": [c.service_type(line)],
            "specialty": [c.specialty(line)],
            "appointmentType": c.concept(c.V2_0276, appt_type, _APPOINTMENT_TYPES[appt_type]),
        }
    )
    reason = _reason_condition(p, line)
    if reason:
        appt["reasonReference"] = [c.ref("Condition", f"demo-cond-{p.key}-{reason}")]
    kind = {"ROUTINE": "Visit", "FOLLOWUP": "Follow-up visit", "WALKIN": "Walk-in visit"}
    appt.update(
        {
            "description": f"{kind[appt_type]} - {line.display}",
            "start": iso(booking.start),
            "end": iso(booking.end),
            "minutesDuration": booking.minutes,
        }
    )
    if visit.status != "cancelled":
        appt["slot"] = [c.ref("Slot", booking.slot_id)]
    appt["created"] = iso(visit.created)
    appt["participant"] = [
        {
            "actor": c.ref("Patient", p.id, p.display),
            "required": "required",
            "status": "needs-action" if waiting else "accepted",
        },
        {
            "type": [c.concept(c.V3_PARTICIPATION_TYPE, "ATND", "attender")],
            "actor": c.ref("PractitionerRole", clinician.role_id, clinician.display),
            "required": "required",
            "status": "needs-action" if visit.status == "proposed" else "accepted",
        },
        {
            "actor": c.ref("Location", site.id, site.name),
            "required": "required",
            "status": "accepted",
        },
    ]
    return appt


def _reason_condition(p: PatientProfile, line: c.ServiceLine) -> str | None:
    if line.code == "cardiology" and "htn" in p.conditions:
        return "htn"
    if line.code == "primary-care" and "dm" in p.conditions:
        return "dm"
    if line.code in ("primary-care", "pediatrics") and "asthma" in p.conditions:
        return "asthma"
    return None


def _emit_encounter_and_feedback(
    world: _World,
    rng: random.Random,
    p: PatientProfile,
    visit: _Visit,
    appt_id: str,
    suffix: str,
    coordinator: StaffMember,
) -> None:
    booking = visit.booking
    clinician = booking.clinician
    begin = booking.start + dt.timedelta(minutes=rng.randint(-5, 20))
    end = begin + dt.timedelta(minutes=max(5, booking.minutes + rng.randint(-8, 10)))
    encounter_id = f"demo-enc-{suffix}"
    visit.resources.append(
        {
            "resourceType": "Encounter",
            "id": encounter_id,
            "meta": c.demo_meta(),
            "status": "finished",
            "class": c.coding(c.V3_ACT_CODE, "AMB", "ambulatory"),
            "serviceType": c.service_type(visit.line),
            "subject": c.ref("Patient", p.id),
            "participant": [
                {
                    "type": [c.concept(c.V3_PARTICIPATION_TYPE, "PPRF", "primary performer")],
                    "individual": c.ref("PractitionerRole", clinician.role_id, clinician.display),
                }
            ],
            "appointment": [c.ref("Appointment", appt_id)],
            "period": {"start": iso(begin), "end": iso(end)},
            "location": [
                {"location": c.ref("Location", clinician.site.id, clinician.site.name), "status": "completed"}
            ],
            "serviceProvider": c.ref("Organization", ORG_ID),
        }
    )
    score = None
    if rng.random() < SURVEY_RATE and p.allows(p.channel, "survey"):
        authored = end + dt.timedelta(minutes=rng.randint(90, 72 * 60))
        if authored <= world.now:
            score = engagement.draw_nps(rng)
            visit.resources.append(engagement.nps_response(p, rng, f"demo-qr-{suffix}", encounter_id, authored, score))
    complaint_chance = 0.35 if score is not None and score <= 6 else 0.004
    if rng.random() < complaint_chance:
        authored = min(end + dt.timedelta(hours=rng.randint(3, 96)), world.now)
        visit.resources.append(
            engagement.complaint_task(
                p,
                rng,
                f"demo-task-{suffix}-complaint",
                encounter_id,
                coordinator,
                authored,
                world.now,
                urgent=score is not None and score <= 3,
            )
        )


# --- free slots --------------------------------------------------------------------------


def _free_future_slots(world: _World) -> Iterator[dict[str, Any]]:
    """Open slots in the bookable horizon (past free slots are not worth storing)."""
    days = [world.future_first + dt.timedelta(days=k) for k in range((world.future_last - world.future_first).days + 1)]
    for clinician in world.roster.clinicians:
        for day in days:
            if not is_weekday(day):
                continue
            for index in world.book.free_indices(clinician, day):
                yield slot_resource(Booking(clinician, day, index), "free")


__all__ = [
    "FUTURE_DAYS",
    "MAX_BATCH",
    "ClinicSpec",
    "generate_clinic",
    "iter_resources",
    "to_transaction_bundle",
]
