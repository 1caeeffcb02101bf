"""SSRF guard: webhook endpoints, chat webhook addresses and integration base
URLs that point at private, loopback or link-local addresses are refused
unless allowed. The test stack allows loopback ([providers] private_targets
= loopback) so the provider fake works; an endpoint with private_targets
"deny" gets the strict rule. 10.x and 169.254.x are refused at the API, so
nothing is ever sent to them; names are checked at connect time, on the
address actually connected to."""

import socket

import herald_helpers as h
import provider_helpers as ph
import pytest


@pytest.mark.parametrize("url", [
    "http://10.0.0.5/hook",
    "http://10.255.1.1:8080/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://192.168.1.10/h",
    "http://172.16.3.4/h",
    "http://[fe80::1]/h",
    "http://0.0.0.0/h",
])
def test_private_targets_refused_at_the_api(tenant, url):
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key, body={"url": url})
    err = h.assert_json_error(r, 422, "validation_failed", "url")
    assert "SSRF" in err["message"], err
    user = h.unique_user_id()
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"discord_webhook_url": url})
    h.assert_json_error(r, 422, "validation_failed", "discord_webhook_url")
    r = h.api("PUT", "/v1/integrations/telegram", key=tenant.key,
              body={"provider": "telegram", "credentials": {"bot_token": "1:x"}, "settings": {"base_url": url}})
    h.assert_json_error(r, 422, "validation_failed", "settings.base_url")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_refused_when_not_allowed(tenant, provider_fake, host):
    url = f"http://{host}:{provider_fake.port}/x"
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key, body={"url": url, "private_targets": "deny"})
    h.assert_json_error(r, 422, "validation_failed", "url")
    # allowed by this stack's configuration (loopback) without the strict flag
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key, body={"url": url})
    assert r.status == 201, r


def loopback_name():
    """A host name (not a literal, not "localhost") that resolves to loopback here.
    The machine's own host name nearly always does (Debian's /etc/hosts maps it
    to 127.0.1.1; containers map it to 127.0.0.1), so the tests below skip only
    on a machine where no such name exists: there is then nothing to resolve,
    and the literal-address cases above still run."""
    for name in (socket.gethostname(), "vm", "runsc", "localhost.localdomain", "ip6-localhost"):
        try:
            infos = socket.getaddrinfo(name, 80, proto=socket.IPPROTO_TCP)
        except OSError:
            continue
        if infos and all(i[4][0].startswith("127.") or i[4][0] == "::1" for i in infos) and name != "localhost":
            return name
    return None


def test_name_resolving_to_loopback_refused_at_connect(tenant, provider_fake):
    name = loopback_name()
    if name is None:
        pytest.skip("no host name resolving to loopback on this machine")
    prefix = provider_fake.prefix("ssrf")
    url = f"http://{name}:{provider_fake.port}{prefix}/hook"
    # a name passes the API check (it is resolved when connecting) ...
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key, body={"url": url, "private_targets": "deny"})
    assert r.status == 201, r
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    d = ph.wait_delivery(tenant.key, nid, "webhook", "failed")
    # ... and the connect to the address it resolved to is refused
    assert d["error"].startswith("ssrf_refused"), d
    assert "loopback" in d["error"], d
    assert provider_fake.requests(prefix) == []


def test_chat_webhook_address_checked_at_connect(tenant, provider_fake):
    name = loopback_name()
    if name is None:
        pytest.skip("no host name resolving to loopback on this machine")
    # The integration asks for the strict rule; the user's Discord webhook
    # URL is a name that resolves to loopback.
    ph.put_integration(tenant.key, "discord", "discord", {"bot_token": "t"}, {"private_targets": "deny"})
    prefix = provider_fake.prefix("ssrf")
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_webhook_url=f"http://{name}:{provider_fake.port}{prefix}/api/webhooks/1/x")
    nid = ph.send(tenant.key, user, ["discord"])
    d = ph.wait_delivery(tenant.key, nid, "discord", "failed")
    assert d["error"].startswith("ssrf_refused"), d
    assert provider_fake.requests(prefix) == []
