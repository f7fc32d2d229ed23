"""A clinic with two sites for the role tests: who works where, and which patients each person reaches.

======================  ==========================================  ====================================
person                  PractitionerRole                            reaches
======================  ==========================================  ====================================
Practitioner/dr-n       clinician at loc-north                      pat-n1 (GP), pat-n2 (appointment)
Practitioner/dr-s       clinician at loc-south                      pat-s1 (GP), pat-ct (care team)
Practitioner/co-n       coordinator at loc-north                    the north team's: pat-n1, pat-n2
Practitioner/sup        supervisor of org-a (at loc-hq)             org-a's: all but pat-x
Practitioner/adm        administrator                               no patient data
Practitioner/idle       coordinator at loc-north, inactive          nothing
Practitioner/nurse      a SNOMED code only (mapped by settings)     pat-s1 (appointment)
======================  ==========================================  ====================================

pat-x belongs to another organization and nobody's team; ``task-owned`` is its Task, owned by co-n's role.
"""

from __future__ import annotations

from tests.fixtures import factories

from fhircrm.config import CRM_ROLE_SYSTEM

SNOMED = "http://snomed.info/sct"
NURSE_CODE = "224535009"  # registered nurse
TEAM_PATIENTS = {"north": {"pat-n1", "pat-n2"}, "south": {"pat-s1", "pat-ct"}}
ALL_PATIENTS = {"pat-n1", "pat-n2", "pat-s1", "pat-ct", "pat-x"}


def ref(reference: str) -> dict:
    return {"reference": reference}


def role(
    role_id: str,
    practitioner: str,
    code: str,
    *,
    location: str | None = None,
    system: str = CRM_ROLE_SYSTEM,
    active: bool = True,
) -> dict:
    resource: dict = {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "active": active,
        "practitioner": ref(f"Practitioner/{practitioner}"),
        "organization": ref("Organization/org-a"),
        "code": [{"coding": [{"system": system, "code": code}]}],
    }
    if location:
        resource["location"] = [ref(f"Location/{location}")]
    return resource


def patient(patient_id: str, *, gp: str | None = None, organization: str = "org-a") -> dict:
    practitioners = {"generalPractitioner": [ref(gp)]} if gp else {}
    return factories.patient(
        id=patient_id,
        family=f"Family-{patient_id}",
        given=(),
        organization=ref(f"Organization/{organization}"),
        **practitioners,
    )


def appointment(appointment_id: str, patient_id: str, actor: str) -> dict:
    return factories.appointment(
        id=appointment_id,
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        patient=f"Patient/{patient_id}",
        actors=[actor],
    )


def task(task_id: str, patient_id: str, *, owner: str | None = None) -> dict:
    resource: dict = {"resourceType": "Task", "id": task_id, "status": "ready", "intent": "order"}
    resource["for"] = ref(f"Patient/{patient_id}")
    if owner:
        resource["owner"] = ref(owner)
    return resource


def message(patient_id: str) -> dict:
    return {
        "resourceType": "Communication",
        "id": f"msg-{patient_id}",
        "status": "completed",
        "subject": ref(f"Patient/{patient_id}"),
    }


def staff() -> list[dict]:
    out: list[dict] = [{"resourceType": "Organization", "id": org, "name": org.upper()} for org in ("org-a", "org-b")]
    out += [{"resourceType": "Location", "id": loc, "name": loc} for loc in ("loc-north", "loc-south", "loc-hq")]
    people = ("dr-n", "dr-s", "co-n", "sup", "adm", "idle", "nurse")
    out += [{"resourceType": "Practitioner", "id": p, "name": [{"family": p}]} for p in people]
    out += [
        role("role-dr-n", "dr-n", "clinician", location="loc-north"),
        role("role-dr-s", "dr-s", "clinician", location="loc-south"),
        role("role-co-n", "co-n", "coordinator", location="loc-north"),
        role("role-sup", "sup", "supervisor", location="loc-hq"),
        role("role-adm", "adm", "administrator"),
        role("role-idle", "idle", "coordinator", location="loc-north", active=False),
        role("role-nurse", "nurse", NURSE_CODE, location="loc-south", system=SNOMED),
    ]
    return out


def two_sites() -> list[dict]:
    """Staff, five patients, their links to staff, and one Task and one message per patient."""
    out = staff()
    out += [
        patient("pat-n1", gp="PractitionerRole/role-dr-n"),
        patient("pat-n2"),
        patient("pat-s1", gp="PractitionerRole/role-dr-s"),
        patient("pat-ct"),
        patient("pat-x", organization="org-b"),
        appointment("appt-n2", "pat-n2", "PractitionerRole/role-dr-n"),
        appointment("appt-s1", "pat-s1", "PractitionerRole/role-nurse"),
        {
            "resourceType": "CareTeam",
            "id": "ct-1",
            "status": "active",
            "subject": ref("Patient/pat-ct"),
            "participant": [{"member": ref("Practitioner/dr-s")}],
        },
        task("task-owned", "pat-x", owner="PractitionerRole/role-co-n"),
    ]
    for patient_id in sorted(ALL_PATIENTS):
        out += [task(f"task-{patient_id}", patient_id), message(patient_id)]
    return out
