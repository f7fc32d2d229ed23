"""The endpoint rules of our Subscriptions on their own (``fhircrm.subscriptions.endpoints``): what the allowlist's
three kinds of entry admit, names that do not resolve, and where a checked request is sent. DNS answers are played
by a resolver put in the module's ``resolver`` seam; the API-level refusals are in tests/security."""

from __future__ import annotations

import pytest

from fhircrm.config import Settings
from fhircrm.errors import Unprocessable
from fhircrm.subscriptions import endpoints


def settings(*allowed: str, environment: str = "development") -> Settings:
    values: dict = {"environment": environment, "subscriptions_allowed_endpoints": list(allowed)}
    if environment == "production":
        values.update(auth_mode="jwt", auth_issuer="https://ehr.example.org", auth_jwks_url="https://ehr.example.org/k")
    return Settings(**values)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}

    async def resolve(host: str, _port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host} does not resolve")
        return answers[host]

    monkeypatch.setattr(endpoints, "resolver", resolve)
    return answers


@pytest.mark.parametrize(
    ("url", "admitted"),
    [
        ("http://listener:8080/hooks", True),
        ("http://listener:8080/hooks/Patient/1", True),
        ("http://listener:8080", True),
        ("http://listener:80801/hooks", False),
        ("http://listener:8080.evil.example/hooks", False),
    ],
)
async def test_a_url_prefix_admits_urls_below_it_only(url: str, admitted: bool, dns: dict[str, list[str]]) -> None:
    dns["listener"] = ["172.18.0.5"]
    dns["listener:8080.evil.example"] = ["172.18.0.5"]
    allowed = settings("http://listener:8080")
    if admitted:
        assert await endpoints.target(url, allowed) == endpoints.Target(url)
    else:
        with pytest.raises((endpoints.EndpointRefused, OSError)):
            await endpoints.target(url, allowed)


async def test_a_host_entry_trusts_the_name_whatever_it_resolves_to(dns: dict[str, list[str]]) -> None:
    dns["hapi"] = ["172.18.0.3"]
    await endpoints.check_written("http://hapi:8080/hook", settings("hapi"))
    assert await endpoints.target("http://HAPI:8080/hook", settings("hapi")) == endpoints.Target(
        "http://HAPI:8080/hook"
    )
    with pytest.raises(Unprocessable):
        await endpoints.check_written("http://hapi:8080/hook", settings("other"))


async def test_a_cidr_admits_the_addresses_inside_it_only(dns: dict[str, list[str]]) -> None:
    dns["inside.lan"] = ["10.20.1.1"]
    dns["straddles.lan"] = ["10.20.1.1", "10.30.1.1"]
    allowed = settings("10.20.0.0/16")
    await endpoints.check_written("http://inside.lan/hook", allowed)
    await endpoints.check_written("http://10.20.9.9/hook", allowed)
    with pytest.raises(Unprocessable):
        await endpoints.check_written("http://straddles.lan/hook", allowed)
    with pytest.raises(endpoints.EndpointRefused, match="private address"):
        await endpoints.target("http://straddles.lan/hook", allowed)


async def test_a_name_that_does_not_resolve_is_accepted_when_written_and_retried_at_delivery(
    dns: dict[str, list[str]],
) -> None:
    await endpoints.check_written("https://not-yet.partner.example/hook", settings())
    with pytest.raises(OSError):
        await endpoints.target("https://not-yet.partner.example/hook", settings())


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:10.0.0.1]/h",
        "http://[64:ff9b::7f00:1]/h",  # NAT64 of 127.0.0.1
        "http://[2002:a00:1::1]/h",  # 6to4 of 10.0.0.1
        "http://0.0.0.0/h",
        "http://224.0.0.1/h",
        "http://[fe80::1]/h",
        "http://192.0.2.1/h",  # documentation
        "ftp://x.org/h",
    ],
)
async def test_other_internal_addresses_and_schemes_are_refused(url: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        await endpoints.check_written(url, settings())
    assert refused.value.issues[0].expression == ("Subscription.channel.endpoint",)


async def test_production_wants_https_even_for_an_allowlisted_host() -> None:
    with pytest.raises(Unprocessable, match="https"):
        await endpoints.check_written("http://hapi:8080/hook", settings("hapi", environment="production"))
    await endpoints.check_written("https://hapi:8443/hook", settings("hapi", environment="production"))


async def test_a_resolved_name_is_sent_to_the_checked_address(dns: dict[str, list[str]]) -> None:
    dns["hooks.partner.example"] = ["2606:4700::1111", "93.184.216.34"]
    target = await endpoints.target("https://user:pw@hooks.partner.example:8443/hook?x=1", settings())
    assert target == endpoints.Target(
        "https://user:pw@[2606:4700::1111]:8443/hook?x=1",
        host_header="hooks.partner.example:8443",
        sni_hostname="hooks.partner.example",
    )
