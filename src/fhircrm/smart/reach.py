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

==============  ===========================================  =============================================
role            patient data                                 other types
==============  ===========================================  =============================================
clinician       own patients; writes Task, Communication,    read; configuration types not written
                CommunicationRequest only (read-mostly)
coordinator     the team's patients and Tasks                read; configuration types not written
supervisor      the team's and organizations' patients       read; configuration types not written
administrator   none                                         configuration types (journeys, Subscriptions)
no role         none                                         none
==============  ===========================================  =============================================

A multi-patient resource (a Group, a Communication to several patients) is reached when one of its patients is:
the same rule as ``patient/`` scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircrm.fhir.access import Branches
from fhircrm.fhir.compartment import compartment_branches, compartment_params, in_compartment
from fhircrm.smart.roles import CLINICAL_ROLES, Staff

WRITES = frozenset({"create", "update", "patch", "delete"})
#: What a clinician may write (read-mostly CRM): messages and follow-up work for their patients.
CLINICIAN_WRITES = frozenset({"Task", "Communication", "CommunicationRequest"})
#: Configuration and knowledge resources: only administrators change them.
CONFIGURATION_TYPES = frozenset(
    {
        "ActivityDefinition",
        "CapabilityStatement",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "Endpoint",
        "EventDefinition",
        "ImplementationGuide",
        "Library",
        "Measure",
        "MessageDefinition",
        "NamingSystem",
        "OperationDefinition",
        "PlanDefinition",
        "Questionnaire",
        "SearchParameter",
        "StructureDefinition",
        "StructureMap",
        "Subscription",
        "SubscriptionTopic",
        "ValueSet",
    }
)
#: In the Patient compartment by definition, but in practice a practitioner's or a location's.
SHARED_TYPES = frozenset({"Schedule"})


@dataclass(frozen=True, slots=True)
class Reach:
    """``branches`` None: roles do not narrow this; ``[]``: nothing, for ``reason``."""

    branches: Branches
    reason: str = ""


EVERYTHING = Reach(None)


def is_patient_data(resource_type: str) -> bool:
    return in_compartment(resource_type) and resource_type not in SHARED_TYPES


def reach(staff: Staff, interaction: str, resource_type: str, *, launch_patient: str | None = None) -> Reach:
    """What ``staff`` may ``interaction`` of ``resource_type`` through a user/ grant (``launch_patient``: the
    token's launch context, a patient id)."""
    if not staff.roles:
        return Reach([], "the signed-in user has no fhircrm role (a PractitionerRole code mapped to one)")
    write = interaction in WRITES
    if not is_patient_data(resource_type):
        if write and resource_type in CONFIGURATION_TYPES and not staff.has("administrator"):
            return Reach([], f"only administrators change {resource_type} resources")
        return EVERYTHING
    branches: list[list[tuple[str, str]]] = []
    if staff.has("clinician") and (not write or resource_type in CLINICIAN_WRITES):
        branches += patient_branches(resource_type, _criteria(staff.own), staff.own)
    if staff.has("coordinator", "supervisor"):
        organizations = staff.organizations if staff.has("supervisor") else ()
        branches += patient_branches(resource_type, _criteria(staff.team, organizations), staff.team)
    if branches:
        if launch_patient:
            branches += compartment_branches(resource_type, launch_patient)
        return Reach(_unique(branches))
    if not staff.has(*CLINICAL_ROLES):
        return Reach([], f"the {_names(staff)} role gives no access to patient data ({resource_type})")
    return Reach([], f"the {_names(staff)} role may not {interaction} {resource_type}")


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


def _names(staff: Staff) -> str:
    return "/".join(sorted(staff.roles))
