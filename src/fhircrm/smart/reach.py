"""What each fhircrm role reaches, as store branches that narrow a ``user/`` grant (never widen it).

Patient data is every type of the R4 Patient compartment (Patient, Appointment, Task, Communication, ...). A
person reaches the patients linked to a set of references ``R`` (themselves for a clinician, their team for a
coordinator or supervisor, see ``fhircrm.smart.roles``) by any of:

* ``Patient.generalPractitioner`` in ``R``;
* a CareTeam of the patient with a participant in ``R``;
* an Appointment of the patient with an actor in ``R`` (who they have seen or will see);
* supervisors also: ``Patient.managingOrganization`` in their organizations;
* the launch patient of an EHR launch (the token's ``patient``): the EHR put the person in that patient's chart,
  so a clinical role reaches them too, for what the role may do at all.

Other compartment types reach those patients through their compartment parameters (``subject:Patient.
general-practitioner=...``), so reads, searches, ``_include``/``_revinclude``, ``$everything``, history and
writes all honour the same rule; Tasks are reached also by ``owner`` in ``R`` (the work of the person or team).

What each role may do at all (allow, narrow or deny, per access class and interaction) is the access table
(``fhircrm.smart.access_table``); this module computes what *narrow* means for the roles the table narrows.

A multi-patient resource (a Group, a Communication to several patients) is reached when one of its patients is:
the same rule as ``patient/`` scopes.
"""

from __future__ import annotations

from fhircrm.fhir.compartment import compartment_branches, compartment_params
from fhircrm.smart.roles import Staff


def reach(
    staff: Staff, narrowing: frozenset[str], resource_type: str, *, launch_patient: str | None = None
) -> list[list[tuple[str, str]]]:
    """The ``resource_type`` resources of the patients that ``staff`` reaches through the roles in
    ``narrowing`` (those the access table narrows for this interaction); ``launch_patient``: the token's
    launch context, a patient id."""
    branches: list[list[tuple[str, str]]] = []
    if "clinician" in narrowing:
        branches += patient_branches(resource_type, _criteria(staff.own), staff.own)
    if narrowing & {"coordinator", "supervisor"}:
        organizations = staff.organizations if "supervisor" in narrowing else ()
        branches += patient_branches(resource_type, _criteria(staff.team, organizations), staff.team)
    if branches and launch_patient:
        branches += compartment_branches(resource_type, launch_patient)
    return _unique(branches)


def patient_branches(
    resource_type: str, criteria: list[tuple[str, str]], owners: tuple[str, ...] = ()
) -> list[list[tuple[str, str]]]:
    """Branches selecting ``resource_type`` resources of the patients that match any of ``criteria``."""
    if resource_type == "Patient":
        branches = [[criterion] for criterion in criteria]
    else:
        params = compartment_params(resource_type)
        branches = [[(f"{param}:Patient.{name}", value)] for param in params for name, value in criteria]
    if resource_type == "Task" and owners:
        branches.append([("owner", ",".join(owners))])
    return branches


def _criteria(refs: tuple[str, ...], organizations: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    criteria: list[tuple[str, str]] = []
    if refs:
        value = ",".join(refs)
        criteria += [
            ("general-practitioner", value),
            ("_has:CareTeam:patient:participant", value),
            ("_has:Appointment:patient:actor", value),
        ]
    if organizations:
        criteria.append(("organization", ",".join(organizations)))
    return criteria


def _unique(branches: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    return [list(b) for b in dict.fromkeys(tuple(b) for b in branches)]
