"""The access table: for every resource type the server stores, its *access class*, and for each class, token
kind and interaction, one decision: ``allow``, ``narrow`` or ``deny``. This module is data; ``SmartPolicy``
(``fhircrm.smart.policy``) is the only reader, and ``docs/security.md`` is generated from it
(``python -m fhircrm.smart.access_table``; a test keeps the two equal).

* **allow**: what the token's scopes grant, unnarrowed.
* **narrow**: a ``patient/`` token reaches its launch patient's compartment; a role reaches its patients
  (``fhircrm.smart.reach``). Only classes inside the Patient compartment are ever narrowed.
* **deny**: refused (403), whatever the scopes say.

Token kinds: ``patient`` (``patient/`` grants), ``user`` (``user/`` grants where roles are not enforced: the
scopes alone decide, ``FHIRCRM_ROLES_ENFORCED=false``), one kind per fhircrm role (``user/`` grants of a person
with that role; several roles: the widest decision of any of them), ``system`` (``system/`` grants: backend
services, and the development all-access context).

A type that is in no class is refused to everyone (``access_class`` raises); a test checks that every type the
server stores is in exactly one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fhircrm.errors import Forbidden

Decision = Literal["allow", "narrow", "deny"]
KINDS: tuple[str, ...] = ("patient", "user", "clinician", "coordinator", "supervisor", "administrator", "system")
ROLE_KINDS: tuple[str, ...] = ("clinician", "coordinator", "supervisor", "administrator")
#: The columns of a row: which interactions each letter of a row decides.
COLUMNS: dict[str, tuple[str, ...]] = {
    "read": ("read", "vread", "history-instance", "search", "operation", "validate", "notify"),
    "history": ("history-type",),
    "create": ("create",),
    "change": ("update", "patch"),
    "delete": ("delete",),
}
INTERACTIONS: tuple[str, ...] = tuple(i for group in COLUMNS.values() for i in group)
#: Interactions across every type at once (``GET /fhir/_history``, ``GET /fhir?_type=...``).
SYSTEM_INTERACTIONS: tuple[str, ...] = ("history-system", "search-system")
_LETTERS: dict[str, Decision] = {"A": "allow", "N": "narrow", "D": "deny"}


@dataclass(frozen=True, slots=True)
class AccessClass:
    name: str
    summary: str
    types: frozenset[str]
    #: token kind -> five letters (A allow, N narrow, D deny) for the columns read, history, create, change, delete
    rows: dict[str, str]

    @property
    def patient_bound(self) -> bool:
        """Whether anyone is ever narrowed to it (its types are patients' data)."""
        return any("N" in row for row in self.rows.values())

    def reaches(self, kind: str) -> bool:
        """Whether ``kind`` may do anything at all with this class."""
        return self.rows[kind].replace(" ", "") != "DDDDD"

    def decision(self, kind: str, interaction: str) -> Decision:
        row = self.rows[kind].replace(" ", "")
        for letter, (_, interactions) in zip(row, COLUMNS.items(), strict=True):
            if interaction in interactions:
                return _LETTERS[letter]
        raise ValueError(f"unknown interaction {interaction!r}")


def _class(name: str, summary: str, types: str, **rows: str) -> AccessClass:
    return AccessClass(name, summary, frozenset(types.split()), rows)


# fmt: off
CLASSES: tuple[AccessClass, ...] = (
    _class(
        "patient-record",
        "The patient's record: every type of the R4 Patient compartment not named in another class.",
        """Account AdverseEvent AllergyIntolerance Appointment AppointmentResponse Basic BodyStructure CarePlan
        CareTeam ChargeItem Claim ClaimResponse ClinicalImpression Composition Condition Coverage
        CoverageEligibilityRequest CoverageEligibilityResponse DeviceRequest DeviceUseStatement DiagnosticReport
        DocumentManifest DocumentReference Encounter EnrollmentRequest EpisodeOfCare ExplanationOfBenefit
        FamilyMemberHistory Goal ImagingStudy Immunization ImmunizationEvaluation ImmunizationRecommendation
        Invoice List Media MedicationAdministration MedicationDispense MedicationRequest MedicationStatement
        MolecularSequence NutritionOrder Observation Patient Person Procedure QuestionnaireResponse RelatedPerson
        RequestGroup ResearchSubject ServiceRequest Specimen SupplyDelivery SupplyRequest VisionPrescription""",
        #                read hist create change delete
        patient=       "N    D    N      N      N",
        user=          "A    A    A      A      A",
        clinician=     "N    D    D      D      D",
        coordinator=   "N    D    N      N      N",
        supervisor=    "N    D    N      N      N",
        administrator= "D    D    D      D      D",
        system=        "A    A    A      A      A",
    ),
    _class(
        "engagement",
        "The CRM's conversations and work about a patient: messages, messages due later, tasks.",
        "Communication CommunicationRequest Task",
        patient=       "N    D    N      D      D",
        user=          "A    A    A      A      A",
        clinician=     "N    D    N      N      N",
        coordinator=   "N    D    N      N      N",
        supervisor=    "N    D    N      N      N",
        administrator= "D    D    D      D      D",
        system=        "A    A    A      A      A",
    ),
    _class(
        "derived",
        "What fhircrm or staff conclude about a patient: risk scores, flags, detected issues.",
        "DetectedIssue Flag RiskAssessment",
        patient=       "N    D    D      D      D",
        user=          "A    A    A      A      A",
        clinician=     "N    D    D      D      D",
        coordinator=   "N    D    N      N      N",
        supervisor=    "N    D    N      N      N",
        administrator= "D    D    D      D      D",
        system=        "A    A    A      A      A",
    ),
    _class(
        "population",
        "Resources about many patients at once (segments, indicator reports): a patient never sees the others.",
        "Group MeasureReport",
        patient=       "D    D    D      D      D",
        user=          "A    A    A      A      A",
        clinician=     "N    D    D      D      D",
        coordinator=   "N    D    N      N      N",
        supervisor=    "N    D    N      N      N",
        administrator= "D    D    D      D      D",
        system=        "A    A    A      A      A",
    ),
    _class(
        "consent",
        "The patient's own choices: a patient app and coordinators record them; nobody deletes them.",
        "Consent",
        patient=       "N    D    N      N      D",
        user=          "A    A    A      A      A",
        clinician=     "N    D    D      D      D",
        coordinator=   "N    D    N      N      D",
        supervisor=    "N    D    N      N      D",
        administrator= "D    D    D      D      D",
        system=        "A    A    A      A      A",
    ),
    _class(
        "audit",
        "Who did what: written by fhircrm (and system clients); read by the patient they concern, staff for "
        "their patients, administrators for the security review. Never changed (append-only).",
        "AuditEvent Provenance",
        patient=       "N    D    D      D      D",
        user=          "A    A    D      D      D",
        clinician=     "N    D    D      D      D",
        coordinator=   "N    D    D      D      D",
        supervisor=    "N    D    D      D      D",
        administrator= "A    A    D      D      D",
        system=        "A    A    A      A      A",
    ),
    _class(
        "subscription",
        "Our Subscriptions: they send data to an address, so only administrators and system clients hold them.",
        "Subscription",
        patient=       "D    D    D      D      D",
        user=          "D    D    D      D      D",
        clinician=     "D    D    D      D      D",
        coordinator=   "D    D    D      D      D",
        supervisor=    "D    D    D      D      D",
        administrator= "A    A    A      A      A",
        system=        "A    A    A      A      A",
    ),
    _class(
        "directory",
        "Who and where: staff, their roles (which decide access), organizations, places, schedules.",
        """Endpoint HealthcareService InsurancePlan Location Organization OrganizationAffiliation Practitioner
        PractitionerRole Schedule Slot""",
        patient=       "A    A    D      D      D",
        user=          "A    A    D      D      D",
        clinician=     "A    A    D      D      D",
        coordinator=   "A    A    D      D      D",
        supervisor=    "A    A    D      D      D",
        administrator= "A    A    A      A      A",
        system=        "A    A    A      A      A",
    ),
    _class(
        "configuration",
        "How fhircrm behaves: journeys, questionnaires, terminology, definitions, measures, SubscriptionTopics "
        "(stored in the backport IG's Basic form, decided by this row).",
        """ActivityDefinition CapabilityStatement ChargeItemDefinition CodeSystem CompartmentDefinition ConceptMap
        EffectEvidenceSynthesis EventDefinition Evidence EvidenceVariable ExampleScenario GraphDefinition
        ImplementationGuide Library Measure MessageDefinition NamingSystem ObservationDefinition OperationDefinition
        PlanDefinition Questionnaire ResearchDefinition ResearchElementDefinition RiskEvidenceSynthesis
        SearchParameter SpecimenDefinition StructureDefinition StructureMap SubscriptionTopic TerminologyCapabilities
        TestReport TestScript ValueSet""",
        patient=       "A    A    D      D      D",
        user=          "A    A    D      D      D",
        clinician=     "A    A    D      D      D",
        coordinator=   "A    A    D      D      D",
        supervisor=    "A    A    D      D      D",
        administrator= "A    A    A      A      A",
        system=        "A    A    A      A      A",
    ),
    _class(
        "reference-data",
        "Shared catalogues that hold no patient's data: medications, substances, devices, studies.",
        """BiologicallyDerivedProduct CatalogEntry Device DeviceDefinition DeviceMetric Medication
        MedicationKnowledge MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication
        MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction
        MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical
        MedicinalProductUndesirableEffect ResearchStudy Substance SubstanceNucleicAcid SubstancePolymer
        SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification""",
        patient=       "A    A    D      D      D",
        user=          "A    A    D      D      D",
        clinician=     "A    A    D      D      D",
        coordinator=   "A    A    D      D      D",
        supervisor=    "A    A    D      D      D",
        administrator= "A    A    A      A      A",
        system=        "A    A    A      A      A",
    ),
    _class(
        "unlinked",
        "Types that may hold a patient's data but are outside the Patient compartment, so no patient or role "
        "can be narrowed to them: only system clients (and scope-only user tokens) reach them.",
        """Binary Bundle Contract EnrollmentResponse GuidanceResponse Linkage MessageHeader OperationOutcome
        PaymentNotice PaymentReconciliation VerificationResult""",
        patient=       "D    D    D      D      D",
        user=          "A    A    A      A      A",
        clinician=     "D    D    D      D      D",
        coordinator=   "D    D    D      D      D",
        supervisor=    "D    D    D      D      D",
        administrator= "D    D    D      D      D",
        system=        "A    A    A      A      A",
    ),
)
#: System-level history and search cross every class at once: only callers that reach every class unnarrowed.
SYSTEM_LEVEL: dict[str, Decision] = {
    "patient": "deny", "user": "allow", "clinician": "deny", "coordinator": "deny", "supervisor": "deny",
    "administrator": "deny", "system": "allow",
}
# fmt: on

_BY_TYPE: dict[str, AccessClass] = {t: c for c in CLASSES for t in c.types}


def access_class(resource_type: str) -> AccessClass:
    """The class of ``resource_type``; Forbidden for a type the table does not name (refused, never allowed)."""
    try:
        return _BY_TYPE[resource_type]
    except KeyError:
        raise Forbidden(f"{resource_type[:64]} is in no access class: nobody may reach it") from None


def decide(kind: str, interaction: str, resource_type: str) -> Decision:
    """The table's answer for one token kind, interaction and type."""
    if interaction in SYSTEM_INTERACTIONS:
        return SYSTEM_LEVEL[kind]
    return access_class(resource_type).decision(kind, interaction)


_WHO = {
    "patient": "patient apps",
    "user": "user tokens",
    "clinician": "clinicians",
    "coordinator": "coordinators",
    "supervisor": "supervisors",
    "administrator": "administrators",
    "system": "system clients",
}


def refusal(kinds: tuple[str, ...], interaction: str, resource_type: str) -> str:
    """Why ``kinds`` are refused, naming who may (the OperationOutcome's diagnostics: no PHI, only names)."""
    named = "/".join(kinds)
    cls = _BY_TYPE.get(resource_type)
    if (
        cls is not None
        and set(kinds) <= set(ROLE_KINDS)
        and cls.patient_bound
        and not any(cls.reaches(k) for k in kinds)
    ):
        return f"the {named} role gives no access to patient data ({resource_type}, access class {cls.name})"
    allowed = [_WHO[k] for k in KINDS if decide(k, interaction, resource_type) != "deny"]
    who = ", ".join(allowed) if allowed else "nobody"
    return f"{named} tokens may not {interaction} {resource_type} resources; only {who} may (access table)"


def markdown() -> str:
    """The table as docs/security.md shows it."""
    head = "| class | types | token | read | type history | create | update, patch | delete |"
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for cls in CLASSES:
        for i, kind in enumerate(KINDS):
            cells = [_LETTERS[letter] for letter in cls.rows[kind].replace(" ", "")]
            first = f"**{cls.name}**" if i == 0 else ""
            types = ", ".join(sorted(cls.types)) if i == 0 else ""
            lines.append(f"| {first} | {types} | {kind} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| system level (`GET /fhir/_history`, `GET /fhir?_type=`) | " + " | ".join(KINDS) + " |")
    lines.append("| --- |" + " --- |" * len(KINDS))
    lines.append("| decision | " + " | ".join(SYSTEM_LEVEL[k] for k in KINDS) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
