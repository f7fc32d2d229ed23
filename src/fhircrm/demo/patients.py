"""Synthetic patients and their registration data: Patient, Consent, Coverage, Condition."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

import fhircrm.demo.codes as c
from fhircrm.demo.names import (
    AREA_CODES,
    NAME_GROUP_WEIGHTS,
    NAME_GROUPS,
    STREETS,
    TOWNS,
    ascii_slug,
)
from fhircrm.demo.noshow_drivers import DISTRICT_EFFECTS, draw_personal_propensity
from fhircrm.demo.roster import ORG_ID, PAYER_ID, PAYER_NAME, SITES, Site, StaffMember
from fhircrm.demo.timeutil import iso, local

# (minimum age, maximum age, weight)
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 17, 0.20),
    (18, 34, 0.22),
    (35, 64, 0.38),
    (65, 94, 0.20),
)

# Chronic segments: key -> (SNOMED code, display, prevalence by age band lower bound).
CONDITIONS: dict[str, tuple[str, str, dict[int, float]]] = {
    "htn": ("38341003", "Hypertensive disorder", {0: 0.01, 18: 0.06, 35: 0.25, 65: 0.50}),
    "dm": ("44054006", "Diabetes mellitus type 2", {0: 0.005, 18: 0.03, 35: 0.12, 65: 0.22}),
    "asthma": ("195967001", "Asthma", {0: 0.07, 18: 0.05, 35: 0.05, 65: 0.05}),
}

DENIABLE_PURPOSES = {"marketing": "Marketing communications", "survey": "Satisfaction surveys"}

_PHONE_SPACE = 100 * len(AREA_CODES)


@dataclass(frozen=True)
class PatientProfile:
    """Everything later steps need to know about a patient, drawn once per patient."""

    index: int
    key: str  # zero-padded index shared by all of this patient's resource ids
    group: int  # index into NAME_GROUPS
    given: str
    family: str
    gender: str
    birth_date: dt.date
    age: int
    language: str
    channel: str
    phone: str
    email: str | None
    site: Site
    registered: dt.date
    conditions: tuple[str, ...]
    denied_channels: tuple[str, ...]
    denied_purposes: tuple[str, ...]
    insured: bool
    propensity: float

    @property
    def id(self) -> str:
        return f"demo-pat-{self.key}"

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}"

    def allows(self, channel: str, purpose: str | None = None) -> bool:
        """Whether Consent permits contacting the patient on `channel` for `purpose`."""
        return channel not in self.denied_channels and purpose not in self.denied_purposes


def fictional_phone(index: int, seed: int) -> str:
    """Unique (per index) E.164 number in the reserved fictional 555-01XX range."""
    k = (index * 7919 + seed * 104729) % _PHONE_SPACE  # bijection because 7919 is prime
    area, line = divmod(k, 100)
    return f"+1{AREA_CODES[area]}55501{line:02d}"


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _band_value(table: dict[int, float], age: int) -> float:
    return table[max(k for k in table if k <= age)]


def _pick_channel(rng: random.Random, age: int, language: str) -> str:
    if language in ("es", "pt"):
        weights = (0.35, 0.35, 0.20, 0.10)
    elif age >= 65:
        weights = (0.25, 0.10, 0.30, 0.35)
    else:
        weights = (0.45, 0.12, 0.33, 0.10)
    return rng.choices(c.CHANNELS, weights=weights)[0]


def draw_profile(index: int, seed: int, rng: random.Random, today: dt.date, history_days: int) -> PatientProfile:
    """Draw demographics, preferences, chronic conditions and consent choices.

    Patients registered (and consented) before the history window opens.
    """
    group_index = rng.choices(range(len(NAME_GROUPS)), weights=NAME_GROUP_WEIGHTS)[0]
    group = NAME_GROUPS[group_index]
    gender = rng.choices(("female", "male", "other"), weights=(0.51, 0.485, 0.005))[0]
    pool = group.female if gender == "female" or (gender == "other" and rng.random() < 0.5) else group.male
    given, family = rng.choice(pool), rng.choice(group.family)

    lo, hi, _ = rng.choices(AGE_BANDS, weights=[w for _, _, w in AGE_BANDS])[0]
    years = rng.randint(lo, hi)
    birth = today - dt.timedelta(days=int(years * 365.25) + rng.randrange(365))
    age = _age_on(birth, today)

    language = "en"
    for code, probability in group.languages:
        if rng.random() < probability:
            language = code
    channel = _pick_channel(rng, age, language)
    key = f"{index:06d}"
    email = None
    if channel == "email" or rng.random() < 0.85:
        email = f"{ascii_slug(given)}.{ascii_slug(family)}.{key}@example.org"

    conditions = tuple(name for name, (_, _, table) in CONDITIONS.items() if rng.random() < _band_value(table, age))
    denied_channels: list[str] = []
    denied_purposes: list[str] = []
    if rng.random() < 0.05:
        for _ in range(1 if rng.random() < 0.8 else 2):
            kind = rng.random()
            if kind < 0.5:
                denied_purposes.append("marketing")
            elif kind < 0.85:
                denied_channels.append(rng.choice([ch for ch in c.CHANNELS if ch != channel]))
            else:
                denied_purposes.append("survey")

    return PatientProfile(
        index=index,
        key=key,
        group=group_index,
        given=given,
        family=family,
        gender=gender,
        birth_date=birth,
        age=age,
        language=language,
        channel=channel,
        phone=fictional_phone(index, seed),
        email=email,
        site=rng.choices(SITES, weights=(0.4, 0.3, 0.3))[0],
        registered=today - dt.timedelta(days=history_days + rng.randint(30, 3650)),
        conditions=conditions,
        denied_channels=tuple(dict.fromkeys(denied_channels)),
        denied_purposes=tuple(dict.fromkeys(denied_purposes)),
        insured=rng.random() < 0.75,
        propensity=draw_personal_propensity(rng),
    )


def district_of(p: PatientProfile) -> str:
    """The patient's neighbourhood (address.district), from the index alone: no extra random draw, so every
    other drawn value of the demo stays as it was."""
    names = list(DISTRICT_EFFECTS)
    return names[(p.index * 7 + p.group) % len(names)]


def _patient(p: PatientProfile, rng: random.Random, gp: StaffMember) -> dict[str, Any]:
    town, zip_prefix = rng.choice(TOWNS)
    line = [f"{rng.randint(1, 1999)} {rng.choice(STREETS)}"]
    if rng.random() < 0.3:
        line.append(f"Apt {rng.randint(1, 12)}{rng.choice('ABCD')}")
    telecom: list[dict[str, Any]] = [
        {
            "system": "phone",
            "value": p.phone,
            "use": "home" if p.channel == "voice" and p.age >= 65 else "mobile",
            "rank": 1 if p.channel != "email" else 2,
        }
    ]
    if p.email:
        telecom.append({"system": "email", "value": p.email, "use": "home", "rank": 1 if p.channel == "email" else 2})
    communication = [{"language": c.concept(c.BCP47, p.language, c.LANGUAGE_DISPLAY[p.language]), "preferred": True}]
    if p.language != "en" and rng.random() < 0.5:
        communication.append({"language": c.concept(c.BCP47, "en", "English"), "preferred": False})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p.id,
        "meta": c.demo_meta(),
        "extension": [{"url": c.PREFERRED_CHANNEL_URL, "valueCode": p.channel}],
        "identifier": [
            {
                "use": "usual",
                "type": c.concept(c.V2_0203, "MR", "Medical record number"),
                "system": c.MRN_SYSTEM,
                "value": f"MRN{p.index + 100000:08d}",
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": p.family, "given": [p.given]}],
        "telecom": telecom,
        "gender": p.gender,
        "birthDate": p.birth_date.isoformat(),
        "address": [
            {
                "use": "home",
                "type": "physical",
                "line": line,
                "city": town,
                "district": district_of(p),
                "state": "NY",
                "postalCode": f"{zip_prefix}{rng.randint(1, 99):02d}",
                "country": "US",
            }
        ],
        "communication": communication,
        "generalPractitioner": [c.ref("PractitionerRole", gp.role_id, gp.display)],
        "managingOrganization": c.ref("Organization", ORG_ID),
    }
    if p.age < 18:
        resource["contact"] = [
            {
                "relationship": [c.concept(c.V3_ROLE_CODE, "PRN", "parent")],
                "name": {"family": p.family, "given": [_guardian_given(rng, p)]},
                "telecom": [{"system": "phone", "value": p.phone, "use": "mobile"}],
            }
        ]
    return resource


def _guardian_given(rng: random.Random, p: PatientProfile) -> str:
    group = NAME_GROUPS[p.group]
    return rng.choice(group.female if rng.random() < 0.6 else group.male)


def _consent(p: PatientProfile) -> dict[str, Any]:
    signed = iso(local(p.registered, 9 * 60 + (p.index * 7) % 480))
    provision: dict[str, Any] = {"type": "permit", "period": {"start": signed}}
    nested = [
        {"type": "deny", "purpose": [c.coding(c.CONTACT_PURPOSE_SYSTEM, code, DENIABLE_PURPOSES[code])]}
        for code in p.denied_purposes
    ] + [{"type": "deny", "code": [c.channel_concept(channel)]} for channel in p.denied_channels]
    if nested:
        provision["provision"] = nested
    return {
        "resourceType": "Consent",
        "id": f"demo-consent-{p.key}",
        "meta": c.demo_meta(),
        "status": "active",
        "scope": c.concept(c.CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [c.concept(c.LOINC, "59284-0", "Patient Consent")],
        "patient": c.ref("Patient", p.id),
        "dateTime": signed,
        "organization": [c.ref("Organization", ORG_ID)],
        "policyRule": c.concept(c.V3_ACT_CODE, "OPTIN", "opt-in"),
        "provision": provision,
    }


def _coverage(p: PatientProfile) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": f"demo-cov-{p.key}",
        "meta": c.demo_meta(),
        "status": "active",
        "beneficiary": c.ref("Patient", p.id),
        "period": {"start": p.registered.isoformat()},
    }
    if not p.insured:
        base["type"] = c.concept(c.COVERAGE_SELFPAY, "pay", "PAY")
        base["payor"] = [c.ref("Patient", p.id)]
        return base
    member = f"DHP{p.index * 37 + 1000000:09d}"
    base.update(
        {
            "identifier": [{"system": c.MEMBER_ID_SYSTEM, "value": member}],
            "type": c.concept(c.V3_ACT_CODE, "HIP", "health insurance plan policy"),
            "subscriberId": member,
            "relationship": c.concept(
                c.SUBSCRIBER_RELATIONSHIP, *(("child", "Child") if p.age < 18 else ("self", "Self"))
            ),
            "payor": [c.ref("Organization", PAYER_ID, PAYER_NAME)],
            "class": [
                {
                    "type": c.concept(c.COVERAGE_CLASS, "plan", "Plan"),
                    "value": "DHP-PPO-SILVER",
                    "name": "Demo Health Plan Silver PPO",
                }
            ],
        }
    )
    return base


def _conditions(p: PatientProfile, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for name in p.conditions:
        code, display, _ = CONDITIONS[name]
        onset_years = rng.randint(0, max(0, min(p.age - 1, 20)))
        onset = p.registered - dt.timedelta(days=onset_years * 365 + rng.randrange(365))
        onset = max(onset, p.birth_date)
        out.append(
            {
                "resourceType": "Condition",
                "id": f"demo-cond-{p.key}-{name}",
                "meta": c.demo_meta(),
                "clinicalStatus": c.concept(c.CONDITION_CLINICAL, "active", "Active"),
                "verificationStatus": c.concept(c.CONDITION_VERIFICATION, "confirmed", "Confirmed"),
                "category": [c.concept(c.CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
                "code": c.concept(c.SNOMED, code, display, text=display),
                "subject": c.ref("Patient", p.id),
                "onsetDateTime": onset.isoformat(),
                "recordedDate": max(onset, p.registered).isoformat(),
            }
        )
    return out


def registration_resources(p: PatientProfile, rng: random.Random, gp: StaffMember) -> list[dict[str, Any]]:
    """Patient first, then the resources that reference it."""
    return [_patient(p, rng, gp), _consent(p), _coverage(p), *_conditions(p, rng)]
