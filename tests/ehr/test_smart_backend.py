"""SMART Backend Services against SEKMET's real token endpoint: fhircrm discovers it, signs a private_key_jwt
assertion (RS384 and ES384), gets a token and calls SEKMET with it; SEKMET refuses calls without one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.fixtures.servers import RunningServer, sekmet_server

from fhircrm.config import Settings
from fhircrm.ehr.auth import SmartBackendAuth
from fhircrm.ehr.client import build_client
from fhircrm.ehr.errors import EhrError
from fhircrm.ehr.keys import generate_key, load_or_create_key, public_jwks

pytestmark = pytest.mark.slow
ALGS = ("RS384", "ES384")


def key_file(folder: Path, alg: str) -> Path:
    return folder / f"fhircrm-{alg}.json"


@pytest.fixture(scope="module")
def smart_ehr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    """SEKMET requiring SMART tokens, with one registered client per signing algorithm (its public JWKS)."""
    keys = tmp_path_factory.mktemp("keys")
    clients = [
        {
            "client_id": f"fhircrm-{alg}",
            "jwks": public_jwks(load_or_create_key(key_file(keys, alg), alg)),
            "scopes": "system/*.*",
        }
        for alg in ALGS
    ]
    server_auth = {"types": ["smart"], "smart_clients": clients, "enforce_scopes": True}
    with sekmet_server(tmp_path_factory.mktemp("ehr"), server_auth=server_auth) as server:
        yield server, keys


def smart_settings(ehr: RunningServer, keys: Path, alg: str) -> Settings:
    return Settings(
        environment="test",
        ehr_base_url=ehr.base_url,
        ehr_auth="smart",
        ehr_client_id=f"fhircrm-{alg}",
        ehr_key_alg=alg,
        ehr_key_file=key_file(keys, alg),
    )


@pytest.mark.parametrize("alg", ALGS)
async def test_fhircrm_gets_a_token_and_works_on_the_ehr_with_it(smart_ehr: tuple, alg: str) -> None:
    ehr, keys = smart_ehr
    async with httpx.AsyncClient() as http:
        client = build_client(smart_settings(ehr, keys, alg), http)
        created = await client.create({"resourceType": "Patient", "name": [{"family": "Smart"}]})
        assert (await client.read("Patient", created["id"]) or {}).get("id") == created["id"]
        assert isinstance(client.auth, SmartBackendAuth) and client.auth.fetches == 1  # cached for the second call


async def test_the_ehr_refuses_a_call_without_a_token(smart_ehr: tuple) -> None:
    ehr, _ = smart_ehr
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{ehr.base_url}/Patient")).status_code == 401


async def test_an_assertion_signed_with_an_unregistered_key_gets_no_token(smart_ehr: tuple) -> None:
    ehr, _ = smart_ehr
    async with httpx.AsyncClient() as http:
        auth = SmartBackendAuth(
            base_url=ehr.base_url, client_id="fhircrm-RS384", key=generate_key("RS384"), http=http, scope="system/*.rs"
        )
        with pytest.raises(EhrError, match="refused"):
            await auth.header()
