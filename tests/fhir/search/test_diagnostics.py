"""A search the server cannot answer is a 400 OperationOutcome whose diagnostic names the parameter and the value,
then says why (issue #15), on PostgreSQL and SQLite. The values of filters can be patient data (a name, a phone),
and so can a result parameter's (``_sort=<a name>``): the answer shows every submitted value as ``<value>`` and
names the parameter, and the part of it that is wrong where that is vocabulary (a parameter code, a type)."""

from __future__ import annotations

import httpx
import pytest


async def refused(client: httpx.AsyncClient, path: str, name: str, value: str) -> str:
    response = await client.get(path, params={name: value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["expression"] == [name]
    assert issue["diagnostics"].startswith(f"{name}=<value>: ")
    return issue["diagnostics"]


#: result parameters: the diagnostic names what in the value is wrong
RESULTS = [
    ("_include", "Patient:name", "'name' is a string search parameter of Patient, not a reference"),
    ("_include", "Patient:nothing", "Patient has no search parameter 'nothing'"),
    ("_include", "Nobody:subject", "'Nobody' is not a resource type"),
    ("_include", "Patient", "takes Type:parameter[:targetType]"),
    ("_revinclude", "Observation:code", "'code' is a token search parameter of Observation, not a reference"),
    ("_revinclude:iterate", "Observation:status", "'status' is a token search parameter of Observation"),
    ("_sort", "-nothing", "Patient has no search parameter 'nothing'"),
    ("_sort", "family,", "an empty sort key"),
    ("_summary", "maybe", "must be one of count, data, false, text, true"),
    ("_count", "many", "must be a whole number"),
]
#: filters: their values (a name, a phone) are shown as <value>
FILTERS = [
    (
        "gender:sideways",
        "male",
        "':sideways' is not a modifier of the token search parameter gender (its modifiers: :missing, :not, :text)",
    ),
    ("family:text", "xy", "':text' is not a modifier of the string search parameter family"),
    ("_id:exact", "xy", "':exact' is not a modifier of the token search parameter _id (its modifiers: :not)"),
    ("general-practitioner:missing", "maybe", ":missing takes true or false"),
    ("birthdate", "yesterday", "not a FHIR date, dateTime or instant"),
    ("general-practitioner:Device", "xy", "general-practitioner cannot refer to a Device"),
    ("gender.name", "xy", "'gender' is a token search parameter of Patient: only references chain"),
    ("general-practitioner.nothing", "xy", "has a search parameter 'nothing'"),
    ("_has:Observation:code:status", "final", "'code' is a token search parameter of Observation"),
    ("_has:Nobody:subject:status", "final", "'Nobody' is not a resource type"),
]


@pytest.mark.parametrize(("name", "value", "why"), RESULTS + FILTERS)
async def test_a_refusal_names_the_parameter_and_the_value(
    client: httpx.AsyncClient, name: str, value: str, why: str
) -> None:
    assert why in await refused(client, "/Patient", name, value)


async def test_a_number_and_a_quantity(client: httpx.AsyncClient) -> None:
    assert "not a number" in await refused(client, "/RiskAssessment", "probability", "lots")
    assert "[prefix]number|system|code" in await refused(client, "/Observation", "value-quantity", "5|mg")


async def test_a_submitted_value_is_not_quoted_back(client: httpx.AsyncClient) -> None:
    diagnostics = await refused(client, "/Patient", "family:sideways", "Okafor")
    assert "Okafor" not in diagnostics and "family:sideways" in diagnostics
    assert "Okafor" not in await refused(client, "/Patient", "_sort", "Okafor")  # a result parameter's value too


async def test_a_long_value_is_cut_short_in_the_diagnostic(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_include": "Patient:" + "x" * 500})
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert response.status_code == 400 and len(diagnostics) < 300
