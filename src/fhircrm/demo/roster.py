"""The clinic network: organisations, sites, service lines, staff and schedules.

Staffing grows with the number of patients so the slot grid never runs out of
capacity (a 100k-patient demo would otherwise need thousands of visits a day
from nine clinicians); the default clinic has the base roster of 9 clinicians
plus 3 care coordinators.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from typing import Any

import fhircrm.demo.codes as c
from fhircrm.demo.names import NAME_GROUP_WEIGHTS, NAME_GROUPS, ascii_slug
from fhircrm.demo.timeutil import slots_per_day

ORG_ID = "demo-org-clinic"
ORG_NAME = "Demo Community Health Network"
PAYER_ID = "demo-org-payer"
PAYER_NAME = "Demo Health Plan"
NPS_QUESTIONNAIRE_ID = "demo-nps"

# Share of all appointments per service line, used only to size the staff.
EXPECTED_LINE_SHARE = {
    "primary-care": 0.42,
    "cardiology": 0.12,
    "dermatology": 0.11,
    "pediatrics": 0.17,
    "physiotherapy": 0.18,
}
TARGET_UTILISATION = 0.6


@dataclass(frozen=True)
class Site:
    """A clinic location."""

    index: int
    id: str
    name: str
    line: str
    city: str
    postal_code: str
    latitude: float
    longitude: float
    phone: str
    service_lines: tuple[str, ...]


SITES: tuple[Site, ...] = (
    Site(
        1,
        "demo-loc-downtown",
        "Demo Clinic Downtown",
        "100 Main Street",
        "Hartwell",
        "12207",
        42.6512,
        -73.7551,
        "+15185550100",
        ("primary-care", "cardiology", "dermatology"),
    ),
    Site(
        2,
        "demo-loc-riverside",
        "Demo Clinic Riverside",
        "45 River Road",
        "Riverside Heights",
        "12404",
        42.6987,
        -73.6921,
        "+15185550101",
        ("primary-care", "pediatrics", "physiotherapy"),
    ),
    Site(
        3,
        "demo-loc-northgate",
        "Demo Clinic Northgate",
        "820 Northgate Boulevard",
        "Northgate",
        "12303",
        42.7425,
        -73.8102,
        "+15185550102",
        ("primary-care", "pediatrics", "physiotherapy"),
    ),
)

# (service line, site index, doctor|nurse) of the base roster.
BASE_CLINICIANS: tuple[tuple[str, int, str], ...] = (
    ("primary-care", 1, "doctor"),
    ("primary-care", 2, "doctor"),
    ("primary-care", 3, "nurse"),
    ("cardiology", 1, "doctor"),
    ("dermatology", 1, "doctor"),
    ("pediatrics", 2, "doctor"),
    ("pediatrics", 3, "nurse"),
    ("physiotherapy", 2, "doctor"),
    ("physiotherapy", 3, "nurse"),
)


@dataclass(frozen=True)
class StaffMember:
    """A practitioner and their single role (clinician or care coordinator)."""

    index: int
    practitioner_id: str
    role_id: str
    schedule_id: str | None
    kind: str  # doctor | nurse | coordinator
    line: c.ServiceLine | None
    site: Site
    given: str
    family: str
    gender: str

    @property
    def display(self) -> str:
        prefix = "Dr. " if self.kind == "doctor" else ""
        return f"{prefix}{self.given} {self.family}"


@dataclass(frozen=True)
class Roster:
    clinicians: tuple[StaffMember, ...]
    coordinators: tuple[StaffMember, ...]
    by_line: dict[str, tuple[StaffMember, ...]]
    by_line_site: dict[tuple[str, int], tuple[StaffMember, ...]]

    def coordinator_for(self, site: Site) -> StaffMember:
        return self.coordinators[(site.index - 1) % len(self.coordinators)]


def hcs_id(line: c.ServiceLine) -> str:
    return f"demo-hcs-{line.code}"


def sites_for_line(line_code: str) -> tuple[Site, ...]:
    return tuple(s for s in SITES if line_code in s.service_lines)


def clinicians_needed(
    patients: int, past_weekdays: int, future_weekdays: int, past_visits: float = 5.5
) -> dict[str, int]:
    """Clinicians per service line so expected demand stays near TARGET_UTILISATION.

    `past_visits` is the expected number of past appointments per patient (~8% cancel).
    """
    past_per_day = past_visits * 0.92 / past_weekdays if past_weekdays else 0.0
    future_per_day = 0.95 / max(future_weekdays, 1)
    per_patient_day = max(past_per_day, future_per_day)
    base = {line.code: 0 for line in c.SERVICE_LINES}
    for line_code, _, _ in BASE_CLINICIANS:
        base[line_code] += 1
    needed: dict[str, int] = {}
    for line in c.SERVICE_LINES:
        demand = patients * per_patient_day * EXPECTED_LINE_SHARE[line.code]
        capacity = slots_per_day(line.slot_minutes) * TARGET_UTILISATION
        needed[line.code] = max(base[line.code], math.ceil(demand / capacity))
    return needed


def _draw_name(rng: random.Random, taken: set[tuple[str, str]]) -> tuple[str, str, str]:
    """Draw a staff name not used yet (staff are looked up by name and e-mail)."""
    while True:
        group = rng.choices(NAME_GROUPS, weights=NAME_GROUP_WEIGHTS)[0]
        gender = "female" if rng.random() < 0.55 else "male"
        given = rng.choice(group.female if gender == "female" else group.male)
        family = rng.choice(group.family)
        if (given, family) not in taken:
            taken.add((given, family))
            return given, family, gender


def build_roster(
    seed: int, patients: int, past_weekdays: int, future_weekdays: int, past_visits: float = 5.5
) -> Roster:
    """Deterministically staff the network for the expected appointment volume."""
    rng = random.Random(f"{seed}:staff")
    needed = clinicians_needed(patients, past_weekdays, future_weekdays, past_visits)
    plan: list[tuple[str, int, str]] = list(BASE_CLINICIANS)
    for line in c.SERVICE_LINES:
        have = sum(1 for code, _, _ in BASE_CLINICIANS if code == line.code)
        sites = sites_for_line(line.code)
        for extra in range(needed[line.code] - have):
            kind = "nurse" if extra % 3 == 2 else "doctor"
            plan.append((line.code, sites[extra % len(sites)].index, kind))

    taken: set[tuple[str, str]] = set()
    clinicians = []
    for i, (line_code, site_index, kind) in enumerate(plan, start=1):
        given, family, gender = _draw_name(rng, taken)
        clinicians.append(
            StaffMember(
                index=i,
                practitioner_id=f"demo-prac-{i:04d}",
                role_id=f"demo-prrole-{i:04d}",
                schedule_id=f"demo-sched-{i:04d}",
                kind=kind,
                line=c.SERVICE_LINE_BY_CODE[line_code],
                site=SITES[site_index - 1],
                given=given,
                family=family,
                gender=gender,
            )
        )
    coordinators = []
    for site in SITES:
        given, family, gender = _draw_name(rng, taken)
        coordinators.append(
            StaffMember(
                index=site.index,
                practitioner_id=f"demo-prac-coord-{site.index:02d}",
                role_id=f"demo-prrole-coord-{site.index:02d}",
                schedule_id=None,
                kind="coordinator",
                line=None,
                site=site,
                given=given,
                family=family,
                gender=gender,
            )
        )
    by_line: dict[str, list[StaffMember]] = {line.code: [] for line in c.SERVICE_LINES}
    by_line_site: dict[tuple[str, int], list[StaffMember]] = {}
    for member in clinicians:
        assert member.line is not None
        by_line[member.line.code].append(member)
        by_line_site.setdefault((member.line.code, member.site.index), []).append(member)
    return Roster(
        clinicians=tuple(clinicians),
        coordinators=tuple(coordinators),
        by_line={k: tuple(v) for k, v in by_line.items()},
        by_line_site={k: tuple(v) for k, v in by_line_site.items()},
    )


# --- resources ----------------------------------------------------------------------

_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def _business_hours() -> list[dict[str, Any]]:
    return [{"daysOfWeek": list(_WEEKDAYS), "availableStartTime": "08:00:00", "availableEndTime": "17:00:00"}]


def _organization() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": ORG_ID,
        "meta": c.demo_meta(),
        "identifier": [{"system": "http://demo-clinic.example.org/org", "value": "DCHN"}],
        "active": True,
        "type": [c.concept(c.ORGANIZATION_TYPE, "prov", "Healthcare Provider")],
        "name": ORG_NAME,
        "telecom": [
            {"system": "phone", "value": SITES[0].phone, "use": "work"},
            {"system": "email", "value": "hello@demo-clinic.example.org", "use": "work"},
        ],
        "address": [_site_address(SITES[0])],
    }


def _payer() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": PAYER_ID,
        "meta": c.demo_meta(),
        "active": True,
        "type": [c.concept(c.ORGANIZATION_TYPE, "pay", "Payer")],
        "name": PAYER_NAME,
        "telecom": [{"system": "phone", "value": "+18005550199", "use": "work"}],
    }


def _site_address(site: Site) -> dict[str, Any]:
    return {
        "use": "work",
        "type": "physical",
        "line": [site.line],
        "city": site.city,
        "state": "NY",
        "postalCode": site.postal_code,
        "country": "US",
    }


def _location(site: Site) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": site.id,
        "meta": c.demo_meta(),
        "status": "active",
        "name": site.name,
        "description": f"Outpatient clinic ({', '.join(site.service_lines)})",
        "mode": "instance",
        "telecom": [{"system": "phone", "value": site.phone, "use": "work"}],
        "address": _site_address(site),
        "physicalType": c.concept(c.LOCATION_PHYSICAL_TYPE, "bu", "Building"),
        "position": {"longitude": site.longitude, "latitude": site.latitude},
        "managingOrganization": c.ref("Organization", ORG_ID),
        "hoursOfOperation": [{"daysOfWeek": list(_WEEKDAYS), "openingTime": "08:00:00", "closingTime": "17:00:00"}],
    }


def _healthcare_service(line: c.ServiceLine) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": hcs_id(line),
        "meta": c.demo_meta(),
        "active": True,
        "providedBy": c.ref("Organization", ORG_ID),
        "type": [c.service_type(line)],
        "specialty": [c.specialty(line)],
        "location": [c.ref("Location", s.id) for s in sites_for_line(line.code)],
        "name": line.display,
        "communication": [c.concept(c.BCP47, code, c.LANGUAGE_DISPLAY[code]) for code in ("en", "es", "pt")],
        "appointmentRequired": True,
        "availableTime": _business_hours(),
    }


def _practitioner(member: StaffMember) -> dict[str, Any]:
    name: dict[str, Any] = {"use": "official", "family": member.family, "given": [member.given]}
    if member.kind == "doctor":
        name["prefix"] = ["Dr."]
    email_local = f"{ascii_slug(member.given)}.{ascii_slug(member.family)}"
    return {
        "resourceType": "Practitioner",
        "id": member.practitioner_id,
        "meta": c.demo_meta(),
        "identifier": [{"system": c.STAFF_ID_SYSTEM, "value": member.practitioner_id[5:].upper()}],
        "active": True,
        "name": [name],
        "telecom": [{"system": "email", "value": f"{email_local}@demo-clinic.example.org", "use": "work"}],
        "gender": member.gender,
    }


def _role(member: StaffMember) -> dict[str, Any]:
    if member.line is None:
        codes = [c.concept(c.CRM_ROLE_SYSTEM, "coordinator", "Care coordinator")]
        services = [
            c.ref("HealthcareService", hcs_id(c.SERVICE_LINE_BY_CODE[code_])) for code_ in member.site.service_lines
        ]
        specialties: list[dict[str, Any]] = []
    else:
        # The HL7 profession plus the CRM role, so staff can be filtered by either.
        codes = [
            c.concept(c.PRACTITIONER_ROLE, member.kind, "Doctor" if member.kind == "doctor" else "Nurse"),
            c.concept(c.CRM_ROLE_SYSTEM, "clinician", "Clinician"),
        ]
        services = [c.ref("HealthcareService", hcs_id(member.line))]
        specialties = [c.specialty(member.line)]
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": member.role_id,
        "meta": c.demo_meta(),
        "active": True,
        "practitioner": c.ref("Practitioner", member.practitioner_id, member.display),
        "organization": c.ref("Organization", ORG_ID),
        "code": codes,
        "location": [c.ref("Location", member.site.id)],
        "healthcareService": services,
        "telecom": [{"system": "phone", "value": member.site.phone, "use": "work"}],
        "availableTime": _business_hours(),
    }
    if specialties:
        role["specialty"] = specialties
    return role


def _schedule(member: StaffMember, horizon_start: str, horizon_end: str) -> dict[str, Any]:
    assert member.line is not None and member.schedule_id is not None
    return {
        "resourceType": "Schedule",
        "id": member.schedule_id,
        "meta": c.demo_meta(),
        "active": True,
        "serviceType": [c.service_type(member.line)],
        "specialty": [c.specialty(member.line)],
        "actor": [
            c.ref("PractitionerRole", member.role_id, member.display),
            c.ref("Location", member.site.id, member.site.name),
        ],
        "planningHorizon": {"start": horizon_start, "end": horizon_end},
        "comment": f"{member.line.display} clinic, {member.line.slot_minutes}-minute slots",
    }


def nps_questionnaire(published: dt.date) -> dict[str, Any]:
    """The Net Promoter Score survey sent after visits."""
    return {
        "resourceType": "Questionnaire",
        "id": NPS_QUESTIONNAIRE_ID,
        "meta": c.demo_meta(),
        "url": c.NPS_QUESTIONNAIRE_URL,
        "version": "1",
        "name": "DemoNPS",
        "title": "Patient experience (Net Promoter Score)",
        "status": "active",
        "subjectType": ["Patient"],
        "date": published.isoformat(),
        "publisher": ORG_NAME,
        "item": [
            {
                "linkId": "nps",
                "text": c.NPS_ITEM_TEXT,
                "type": "integer",
                "required": True,
                "extension": [
                    {"url": c.MIN_VALUE_EXT, "valueInteger": 0},
                    {"url": c.MAX_VALUE_EXT, "valueInteger": 10},
                ],
            },
            {
                "linkId": "comment",
                "text": c.NPS_COMMENT_TEXT,
                "type": "text",
                "required": False,
            },
        ],
    }


def infrastructure_resources(
    roster: Roster, horizon_start: str, horizon_end: str, published: dt.date
) -> list[dict[str, Any]]:
    """All non-patient resources, referenced ones first."""
    out: list[dict[str, Any]] = [_organization(), _payer()]
    out.extend(_location(site) for site in SITES)
    out.extend(_healthcare_service(line) for line in c.SERVICE_LINES)
    staff = (*roster.clinicians, *roster.coordinators)
    out.extend(_practitioner(m) for m in staff)
    out.extend(_role(m) for m in staff)
    out.extend(_schedule(m, horizon_start, horizon_end) for m in roster.clinicians)
    out.append(nps_questionnaire(published))
    return out
