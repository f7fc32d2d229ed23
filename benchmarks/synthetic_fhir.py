"""Deterministic, realistic FHIR R4 resources for the benchmarks: a practice's staff, then patients each with
their appointments, coordinator tasks and messages.

The same seed and size always give the same resources and ids (uuid5), so runs are comparable and the
searches the benchmark times have known, typical selectivity:

- one PractitionerRole per 2,000 resources (at least 10): a coordinator owns ~300 Tasks, ~35% of them open;
- appointments spread over 365 days from ``EPOCH``: ~750 a day at 1M resources, ~70% of them booked.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = 365
NAMESPACE = uuid.UUID("6f1b0f5e-7c55-4c55-9d7e-2c4a1f0e9b31")
MRN_SYSTEM = "urn:oid:1.2.3.4.5.1"
PER_PATIENT = 10  # resources per patient on average: 1 Patient + 2.5 Appointment + 3 Task + 3 Communication + 0.5 CR

FAMILY = ("Garcia", "Smith", "Nguyen", "Okafor", "Müller", "Rossi", "Kowalski", "Haddad", "Tanaka", "Silva", "Dubois")
GIVEN = ("Ana", "James", "Linh", "Chidi", "Jürgen", "Giulia", "Piotr", "Layla", "Yuki", "João", "Élodie", "Sam")
SERVICES = (("394814009", "General practice"), ("394579002", "Cardiology"), ("394537008", "Paediatrics"))
TASK_CODES = (("call-back", "Call the patient back"), ("reschedule", "Reschedule a missed visit"))
TASK_STATUS = (("requested", 20), ("ready", 15), ("in-progress", 10), ("completed", 45), ("cancelled", 10))
APPT_STATUS = (("booked", 70), ("fulfilled", 15), ("cancelled", 10), ("noshow", 5))
PRIORITIES = ("routine", "urgent", "asap", "stat")


def fhir_id(kind: str, number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}/{number}"))


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


@dataclass(frozen=True)
class Plan:
    resources: int
    seed: int = 42

    @property
    def roles(self) -> int:
        return max(10, self.resources // 2000)

    @property
    def organizations(self) -> int:
        return max(1, self.roles // 50)

    @property
    def staff(self) -> int:
        """Organizations, Locations, Practitioners and PractitionerRoles."""
        return self.organizations * 2 + self.roles * 2

    @property
    def patients(self) -> int:
        return max(1, (self.resources - self.staff) // PER_PATIENT)

    def role_id(self, number: int) -> str:
        return fhir_id("PractitionerRole", number % self.roles)


class Generator:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.rng = random.Random(plan.seed)

    def resources(self) -> Iterator[dict]:
        """Staff first (everything else points at it), then the patients with their records."""
        yield from self.staff()
        emitted = self.plan.staff
        for number in range(self.plan.patients):
            for res in self.patient_record(number):
                if emitted >= self.plan.resources:
                    return
                emitted += 1
                yield res

    def staff(self) -> Iterator[dict]:
        plan = self.plan
        for n in range(plan.organizations):
            yield {
                "resourceType": "Organization",
                "id": fhir_id("Organization", n),
                "active": True,
                "name": f"Clinic {n}",
                "identifier": [{"system": "urn:oid:1.2.3.4.5.6", "value": f"ORG{n}"}],
            }
            yield {
                "resourceType": "Location",
                "id": fhir_id("Location", n),
                "status": "active",
                "name": f"Clinic {n} outpatients",
                "managingOrganization": {"reference": f"Organization/{fhir_id('Organization', n)}"},
            }
        for n in range(plan.roles):
            org = n % plan.organizations
            given, family = GIVEN[n % len(GIVEN)], FAMILY[n % len(FAMILY)]
            yield {
                "resourceType": "Practitioner",
                "id": fhir_id("Practitioner", n),
                "active": True,
                "identifier": [{"system": "urn:oid:1.2.3.4.5.5", "value": f"PR{n}"}],
                "name": [{"family": family, "given": [given], "prefix": ["Dr"]}],
                "telecom": [{"system": "email", "value": f"pr{n}@clinic{org}.example"}],
            }
            yield {
                "resourceType": "PractitionerRole",
                "id": fhir_id("PractitionerRole", n),
                "active": True,
                "practitioner": {"reference": f"Practitioner/{fhir_id('Practitioner', n)}"},
                "organization": {"reference": f"Organization/{fhir_id('Organization', org)}"},
                "code": [{"coding": [{"system": "http://snomed.info/sct", "code": "768730001", "display": "Nurse"}]}],
            }

    def patient_record(self, number: int) -> list[dict]:
        rng = self.rng
        patient_id = fhir_id("Patient", number)
        subject = {"reference": f"Patient/{patient_id}"}
        family, given = rng.choice(FAMILY), rng.choice(GIVEN)
        out: list[dict] = [
            {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [{"system": MRN_SYSTEM, "value": f"MRN{number:08d}"}],
                "active": True,
                "name": [{"use": "official", "family": family, "given": [given]}],
                "gender": rng.choice(("female", "male")),
                "birthDate": f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "telecom": [
                    {"system": "phone", "value": f"+4420{number:08d}", "use": "mobile"},
                    {"system": "email", "value": f"patient{number}@mail.example"},
                ],
                "address": [{"line": [f"{number % 300} High Street"], "city": "Leeds", "postalCode": "LS1 4AP"}],
                "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}}],
            }
        ]
        appointments = 2 + (number % 2)  # 2.5 on average
        for k in range(appointments):
            role = rng.randrange(self.plan.roles)
            start = EPOCH + timedelta(days=rng.randrange(DAYS), hours=rng.randint(8, 16), minutes=rng.choice((0, 30)))
            code, display = rng.choice(SERVICES)
            appointment_id = fhir_id("Appointment", number * 4 + k)
            out.append(
                {
                    "resourceType": "Appointment",
                    "id": appointment_id,
                    "status": _weighted(rng, APPT_STATUS),
                    "serviceType": [
                        {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]}
                    ],
                    "start": instant(start),
                    "end": instant(start + timedelta(minutes=20)),
                    "minutesDuration": 20,
                    "participant": [
                        {"actor": subject, "status": "accepted"},
                        {
                            "actor": {"reference": f"PractitionerRole/{fhir_id('PractitionerRole', role)}"},
                            "status": "accepted",
                        },
                        {
                            "actor": {"reference": f"Location/{fhir_id('Location', role % self.plan.organizations)}"},
                            "status": "accepted",
                        },
                    ],
                }
            )
        for k in range(3):
            authored = EPOCH + timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(1440))
            code, display = rng.choice(TASK_CODES)
            out.append(
                {
                    "resourceType": "Task",
                    "id": fhir_id("Task", number * 3 + k),
                    "status": _weighted(rng, TASK_STATUS),
                    "intent": "order",
                    "priority": rng.choices(PRIORITIES, weights=(70, 20, 8, 2))[0],
                    "code": {"coding": [{"system": "http://fhircrm.example/task", "code": code}], "text": display},
                    "description": display,
                    "for": subject,
                    "focus": {"reference": f"Appointment/{fhir_id('Appointment', number * 4)}"},
                    "authoredOn": instant(authored),
                    "lastModified": instant(authored + timedelta(hours=1)),
                    "owner": {"reference": f"PractitionerRole/{self.plan.role_id(rng.randrange(self.plan.roles))}"},
                }
            )
        for k in range(3):
            sent = EPOCH + timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(1440))
            out.append(
                {
                    "resourceType": "Communication",
                    "id": fhir_id("Communication", number * 3 + k),
                    "status": "completed",
                    "category": [{"coding": [{"system": "http://fhircrm.example/category", "code": "reminder"}]}],
                    "medium": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                                    "code": "SMSWRIT",
                                }
                            ]
                        }
                    ],
                    "subject": subject,
                    "recipient": [subject],
                    "sent": instant(sent),
                    "payload": [{"contentString": f"Reminder: your appointment on {sent:%d %b} at {sent:%H:%M}."}],
                }
            )
        if number % 2 == 0:
            due = EPOCH + timedelta(days=rng.randrange(DAYS))
            out.append(
                {
                    "resourceType": "CommunicationRequest",
                    "id": fhir_id("CommunicationRequest", number),
                    "status": "active",
                    "subject": subject,
                    "recipient": [subject],
                    "occurrenceDateTime": instant(due),
                    "payload": [{"contentString": "Please bring your medication list."}],
                }
            )
        return out
