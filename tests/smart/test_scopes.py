"""SMART scopes v1 and v2: parsing, what each grants, granular queries and context kinds."""

from __future__ import annotations

import pytest

from fhircrm.smart.scopes import Grant, Scopes, interaction_letter, parse_resource_scope

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


def test_v2_patient_scope_grants_read_and_search_only():
    scopes = Scopes.parse("patient/Task.rs")
    assert scopes.allows("read", "Task")
    assert scopes.allows("search", "Task")
    assert not scopes.allows("create", "Task")
    assert not scopes.allows("update", "Task")
    assert not scopes.allows("delete", "Task")


def test_v2_scope_does_not_cover_other_resource_types():
    assert not Scopes.parse("patient/Task.rs").allows("read", "Communication")


def test_v2_cruds_grants_every_interaction():
    scopes = Scopes.parse("user/Communication.cruds")
    for interaction in ("create", "read", "vread", "update", "patch", "delete", "search", "history-instance"):
        assert scopes.allows(interaction, "Communication"), interaction


def test_system_wildcard_covers_every_type():
    scopes = Scopes.parse("system/*.rs")
    assert scopes.allows("read", "Patient")
    assert scopes.allows("search", "AuditEvent")
    assert not scopes.allows("create", "Patient")
    assert scopes.contexts == {"system"}


@pytest.mark.parametrize(
    ("scope", "letters"),
    [("patient/*.read", "rs"), ("user/*.write", "cud"), ("user/Task.*", "cruds"), ("system/Patient.read", "rs")],
)
def test_v1_permissions_map_to_v2_letters(scope: str, letters: str):
    parsed = parse_resource_scope(scope)
    assert parsed is not None
    assert parsed.version == 1
    assert parsed.letters == frozenset(letters)


def test_v1_write_does_not_grant_read():
    scopes = Scopes.parse("user/*.write")
    assert scopes.allows("update", "Task")
    assert not scopes.allows("read", "Task")


@pytest.mark.parametrize("letters", ["sr", "rr", "x", "crudsx", "", "READ", "rs*"])
def test_v2_letters_out_of_order_repeated_or_unknown_are_not_understood(letters: str):
    scopes = Scopes.parse(f"patient/Task.{letters}")
    assert scopes.resources == ()
    assert scopes.unrecognized == (f"patient/Task.{letters}",)
    assert not scopes.allows("read", "Task")


def test_granular_scope_returns_its_query_as_constraints():
    scopes = Scopes.parse(f"patient/Observation.rs?category={LAB}")
    permission = scopes.permission("search", "Observation")
    assert permission.allowed
    assert not permission.unrestricted
    assert permission.grants == (Grant("patient", (("category", LAB),)),)


def test_granular_query_is_percent_decoded_and_keeps_every_parameter():
    scope = parse_resource_scope("user/Observation.rs?category=vital-signs&code=http%3A%2F%2Floinc.org%7C8867-4")
    assert scope is not None
    assert scope.query == (("category", "vital-signs"), ("code", "http://loinc.org|8867-4"))


def test_granular_and_plain_scopes_together_are_ored():
    scopes = Scopes.parse(f"user/Observation.rs?category={LAB} user/Observation.r")
    read = scopes.permission("read", "Observation")
    search = scopes.permission("search", "Observation")
    assert read.unrestricted  # the plain user scope reads everything
    assert not search.unrestricted  # searching is only granted by the granular scope
    assert search.grants == (Grant("user", (("category", LAB),)),)


def test_v1_scope_with_a_query_is_not_understood():
    assert Scopes.parse("patient/Observation.read?category=laboratory").resources == ()


def test_scope_with_an_empty_or_malformed_query_is_not_understood():
    assert Scopes.parse("patient/Observation.rs?").resources == ()
    assert Scopes.parse("patient/Observation.rs?category").resources == ()


def test_patient_grants_are_restricted_but_user_and_system_grants_are_not():
    assert not Scopes.parse("patient/Task.rs").permission("read", "Task").unrestricted
    assert Scopes.parse("user/Task.rs").permission("read", "Task").unrestricted
    assert Scopes.parse("system/Task.rs").permission("read", "Task").unrestricted


def test_permission_reports_every_context_that_grants():
    permission = Scopes.parse("patient/Task.rs user/*.read").permission("read", "Task")
    assert permission.contexts == {"patient", "user"}


def test_launch_openid_fhiruser_and_offline_access_are_flags_not_resource_scopes():
    scopes = Scopes.parse("launch openid fhirUser offline_access online_access profile")
    assert scopes.resources == ()
    assert scopes.unrecognized == ()
    for flag in ("launch", "openid", "fhirUser", "offline_access", "online_access", "profile"):
        assert scopes.has(flag)


def test_launch_context_scopes_are_collected():
    scopes = Scopes.parse("launch/patient launch/encounter")
    assert scopes.launch_contexts == {"patient", "encounter"}
    assert not scopes.has("launch")


def test_unknown_scopes_are_kept_aside_and_grant_nothing():
    scopes = Scopes.parse("read:everything admin Patient.read patient/task.rs")
    assert scopes.resources == ()
    assert scopes.unrecognized == ("read:everything", "admin", "Patient.read", "patient/task.rs")


def test_context_wildcard_is_not_a_context():
    assert Scopes.parse("*/Patient.read").resources == ()


def test_empty_and_missing_scopes_grant_nothing():
    for value in ("", "   ", None, []):
        scopes = Scopes.parse(value)
        assert scopes.resources == ()
        assert not scopes.allows("read", "Patient")


def test_scopes_may_come_as_a_list_and_duplicates_count_once():
    scopes = Scopes.parse(["patient/Task.rs", "patient/Task.rs", "openid"])
    assert len(scopes.resources) == 1
    assert str(scopes) == "patient/Task.rs openid"


def test_extra_whitespace_between_scopes_is_ignored():
    assert len(Scopes.parse("  patient/Task.rs \n\t user/Task.c ").resources) == 2


@pytest.mark.parametrize(
    ("interaction", "letter"),
    [
        ("read", "r"),
        ("vread", "r"),
        ("history-instance", "r"),
        ("history", "s"),
        ("history-type", "s"),
        ("history-system", "s"),
        ("search", "s"),
        ("search-type", "s"),
        ("search-system", "s"),
        ("create", "c"),
        ("update", "u"),
        ("patch", "u"),
        ("delete", "d"),
        ("s", "s"),
    ],
)
def test_interactions_map_to_one_letter(interaction: str, letter: str):
    assert interaction_letter(interaction) == letter


def test_type_history_needs_search_not_read():
    scopes = Scopes.parse("user/Task.r")
    assert scopes.allows("history-instance", "Task")
    assert not scopes.allows("history-type", "Task")


def test_unknown_interaction_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown interaction"):
        Scopes.parse("user/*.cruds").allows("operate", "Task")


def test_everything_grants_all_interactions_on_all_types_without_restriction():
    permission = Scopes.everything().permission("delete", "Patient")
    assert permission.allowed and permission.unrestricted
