"""Web chat behind several API processes: a conversation opened on one replica goes on on another.

The widget's requests land on whichever replica the load balancer picks, so every replica must accept the tokens
any of them issued. Two ``fhircrm serve`` processes on one PostgreSQL database, as typed, with no
``FHIRCRM_CHANNELS_WEBCHAT_SECRET`` (the development default); production without the secret refuses chat
plainly instead of issuing tokens that only one process accepts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from tests.fixtures.cli import FHIRCRM, cli_env
from tests.fixtures.servers import free_port, stop_processes, wait_until_up

from fhircrm.channels import chat_tokens
from fhircrm.config import Settings


def test_a_chat_token_issued_by_one_api_replica_is_accepted_by_another(pg_database_url: str, tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    env = cli_env(database_url=pg_database_url, base_url=f"http://127.0.0.1:{ports[0]}/fhir")
    servers: list[subprocess.Popen] = []
    try:
        for port in ports:  # one after the other: the first migrates, the second finds the schema in place
            log = (tmp_path / f"serve-{port}.log").open("wb")
            command = [str(FHIRCRM), "serve", "--workers", "1", "--port", str(port), "--host", "127.0.0.1"]
            servers.append(subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT))
            log.close()
            wait_until_up(f"http://127.0.0.1:{port}/fhir/metadata", timeout=120, alive=servers[-1])
        first, second = (f"http://127.0.0.1:{port}/channels/webchat" for port in ports)

        opened = httpx.post(f"{first}/conversations", timeout=30)
        assert opened.status_code == 201
        token = opened.json()["token"]
        said = httpx.post(
            f"{second}/messages",
            json={"id": "msg-0001", "text": "Is the clinic open on Saturday?"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert said.status_code == 200, said.text
        assert said.json()["received"] is True
        again = httpx.post(  # the same message through the first replica is the same message
            f"{first}/messages",
            json={"id": "msg-0001", "text": "Is the clinic open on Saturday?"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert again.status_code == 200
        assert again.json()["received"] is False
    finally:
        stop_processes(*servers)
    for log in tmp_path.glob("serve-*.log"):
        assert b"Traceback" not in log.read_bytes()


def test_production_without_a_webchat_secret_refuses_chat_tokens_and_with_one_signs_them() -> None:
    production = {"environment": "production", "auth_mode": "introspection", "auth_introspection_url": "https://a/i"}
    unset = Settings(**production)
    with pytest.raises(chat_tokens.NotConfigured, match="FHIRCRM_CHANNELS_WEBCHAT_SECRET"):
        chat_tokens.issue(unset)
    with pytest.raises(chat_tokens.NotConfigured):
        chat_tokens.verify(unset, "c1.session.1700000000.mac")
    configured = Settings(**production, channels_webchat_secret=SecretStr("a shared secret"))
    token, conversation = chat_tokens.issue(configured)
    assert chat_tokens.verify(configured, token) == conversation
    assert chat_tokens.verify(Settings(**production, channels_webchat_secret=SecretStr("another")), token) is None
