"""Isolation and hygiene: with a valid key or session of tenant A, every
attempt to read, list, change or delete tenant B's notifications, users, keys,
templates and projects answers 404 and leaves B's data unchanged (table
driven: a resource is one entry); no secret, token or password appears in any
log; HTTPS with redirects, security headers and no version banners."""

import glob
import http.client
import os
import ssl
import urllib.parse
import uuid

import pytest

import herald_helpers as h
from herald_helpers import api, assert_json_error, member_api, signup


@pytest.fixture(scope="module")
def pair():
    return signup(), signup()


def route_missing(r):
    """True when the API has no such route yet (resource not built)."""
    return r.status in (404, 405) and isinstance(r.json, dict) and \
        r.json.get("error", {}).get("message") in ("no such route", "this route does not accept that method")


# ---------------------------------------------------------------------------
# Each resource: make one for B (returns its id), read it back as B (what must
# stay unchanged), and the requests A tries (each must reach a real route).
# In paths, {id} is B's resource, {env}/{prod} B's environments.

def make_notification(b):
    r = api("POST", "/v1/notifications", body=h.notification(channels=["in_app"]), key=b.dev_key)
    assert r.status == 202, r
    nid = r.json["id"]
    h.wait_notification(b.dev_key, nid, lambda d: d["status"] == "completed")
    return nid


def read_notification(b, nid):
    r = api("GET", f"/v1/notifications/{nid}", key=b.dev_key)
    assert r.status == 200, r
    return (r.json["status"], r.json["title"], len(r.json["deliveries"]))


def make_user(b):
    uid = "victim-" + uuid.uuid4().hex[:8]
    r = api("PUT", f"/v1/users/{uid}", body={"email": h.unique_email("victim-")}, key=b.dev_key)
    assert r.status in (200, 201), r
    return uid


def read_user(b, uid):
    r = api("GET", f"/v1/users/{uid}", key=b.dev_key)
    assert r.status == 200, r
    return r.json


def make_template(b):
    key = "victim." + uuid.uuid4().hex[:8]
    r = api("PUT", f"/v1/templates/{key}",
            body={"channels": {"email": {"subject": "Hi {{title}}", "text": "Hello {{title}}"}}}, key=b.dev_key)
    assert r.status in (200, 201), r
    return key


def read_template(b, key):
    r = api("GET", f"/v1/templates/{key}", key=b.dev_key)
    assert r.status == 200, r
    return r.json


SLACK_TOKEN = "xoxb-victim-" + uuid.uuid4().hex


def make_integration(b):
    r = api("PUT", "/v1/integrations/slack", body={"provider": "slack", "credentials": {"bot_token": SLACK_TOKEN},
                                                   "settings": {}}, key=b.dev_key)
    assert r.status in (200, 201), r
    h.remember_secrets(SLACK_TOKEN)
    return "slack"


def read_integration(b, channel):
    r = api("GET", f"/v1/integrations/{channel}", key=b.dev_key)
    assert r.status == 200, r
    return r.json


def make_key(b):
    return member_api(b, "GET", f"/v1/keys?environment_id={b.dev_env}").json["data"][0]["id"]


def read_key(b, kid):
    keys = member_api(b, "GET", f"/v1/keys?environment_id={b.dev_env}").json["data"]
    k = [k for k in keys if k["id"] == kid][0]
    return (k["revoked_at"], k["expires_at"], k["name"], len(keys))


def make_project(b):
    return b.project_id


def read_project(b, pid):
    r = member_api(b, "GET", f"/v1/projects/{pid}")
    assert r.status == 200, r
    return r.json


# (resource, make, read, [(who, method, path, body)]); who: "key" = A's
# development key, "prod" its production key, "member" = A's session.
RESOURCES = [
    ("notifications", make_notification, read_notification, [
        ("key", "GET", "/v1/notifications/{id}", None),
        ("prod", "GET", "/v1/notifications/{id}", None),
    ]),
    ("users", make_user, read_user, [
        # users are named per environment: A's PUT of the same id makes A's own
        ("key", "GET", "/v1/users/{id}", None),
        ("prod", "GET", "/v1/users/{id}", None),
        ("key", "DELETE", "/v1/users/{id}", None),
    ]),
    ("templates", make_template, read_template, [
        # templates are named per environment: A's PUT of the same name makes A's own
        ("key", "GET", "/v1/templates/{id}", None),
        ("prod", "GET", "/v1/templates/{id}", None),
        ("key", "GET", "/v1/templates/{id}/versions", None),
        ("key", "GET", "/v1/templates/{id}/versions/1", None),
        ("key", "POST", "/v1/templates/{id}/publish", {"version": 1}),
        ("key", "DELETE", "/v1/templates/{id}", None),
    ]),
    ("integrations", make_integration, read_integration, [
        ("key", "GET", "/v1/integrations/{id}", None),
        ("key", "DELETE", "/v1/integrations/{id}", None),
    ]),
    ("keys", make_key, read_key, [
        ("member", "GET", "/v1/keys?environment_id={env}", None),
        ("key", "GET", "/v1/keys?environment_id={env}", None),
        ("member", "POST", "/v1/keys", {"environment_id": "{env}", "name": "mine now"}),
        ("member", "POST", "/v1/keys/{id}/rotate", {"grace_seconds": 0}),
        ("key", "POST", "/v1/keys/{id}/rotate", {"grace_seconds": 0}),
        ("member", "DELETE", "/v1/keys/{id}", None),
        ("key", "DELETE", "/v1/keys/{id}", None),
        ("member", "POST", "/v1/environments/{env}/signing-secret/rotate", {}),
    ]),
    ("projects", make_project, read_project, [
        ("member", "GET", "/v1/projects/{id}", None),
        ("member", "PATCH", "/v1/projects/{id}", {"name": "pwned"}),
        ("member", "DELETE", "/v1/projects/{id}", None),
    ]),
]


def fill(v, b, rid):
    if isinstance(v, str):
        return v.replace("{id}", str(rid)).replace("{env}", b.dev_env).replace("{prod}", b.prod_env)
    if isinstance(v, dict):
        return {k: fill(x, b, rid) for k, x in v.items()}
    return v


@pytest.mark.parametrize("resource,make,read,probes", RESOURCES, ids=[r[0] for r in RESOURCES])
def test_cross_tenant_access_is_404_and_changes_nothing(pair, resource, make, read, probes):
    a, b = pair
    rid = make(b)
    before = read(b, rid)
    tried = 0
    for who, method, path, body in probes:
        path, body = fill(path, b, rid), fill(body, b, rid)
        if who in ("key", "prod"):
            r = api(method, path, body=body, key=a.dev_key if who == "key" else a.prod_key)
        else:
            r = member_api(a, method, path, body=body)
        assert not route_missing(r), f"probe of a route the API does not have: {method} {path}"
        tried += 1
        assert r.status == 404, f"A {who} {method} {path}: {r!r}"
        assert r.json["error"]["code"] == "not_found", r
        assert str(rid) not in r.raw.decode("utf-8", "replace")
    assert tried > 0, f"no probe of {resource} reached a route"
    assert read(b, rid) == before, f"B's {resource} changed"


def test_lists_show_only_the_own_tenant(pair):
    a, b = pair
    nid = make_notification(b)
    r = api("GET", "/v1/notifications?limit=100", key=a.dev_key)
    assert r.status == 200 and nid not in r.raw.decode(), r
    r = member_api(a, "GET", "/v1/projects")
    assert [p["id"] for p in r.json["data"]] == [a.project_id]
    r = member_api(a, "GET", "/v1/usage")
    assert {e["id"] for e in r.json["environments"]} == {a.dev_env, a.prod_env}
    # B's key works as before
    assert api("POST", "/v1/notifications", body=h.notification(channels=["in_app"]), key=b.dev_key).status == 202


# ---------------------------------------------------------------------------
# Secrets never reach a log line.

def test_no_secret_appears_in_any_log():
    m = signup()
    h.remember_secrets(m.password)
    # exercise the paths that handle secrets, including failures
    api("POST", "/v1/auth/login", body={"email": m.email, "password": "Wrong-" + m.password})
    r = api("POST", "/v1/auth/login", body={"email": m.email, "password": m.password})
    h.remember_secrets(r.json["access_token"], r.json["refresh_token"])
    r2 = api("POST", "/v1/auth/refresh", body={"refresh_token": r.json["refresh_token"]})
    h.remember_secrets(r2.json["access_token"], r2.json["refresh_token"])
    api("POST", "/v1/auth/refresh", body={"refresh_token": r.json["refresh_token"]})  # reuse
    k = member_api(m, "POST", "/v1/keys", body={"environment_id": m.dev_env}).json
    h.remember_secrets(k["key"])
    rot = member_api(m, "POST", f"/v1/keys/{k['id']}/rotate", body={}).json
    h.remember_secrets(rot["key"])
    t = api("POST", "/v1/users/u-1/token", body={"ttl": 60}, key=rot["key"]).json
    h.remember_secrets(t["token"])
    api("GET", "/v1/projects", headers={"Authorization": "Bearer " + rot["key"]})
    api("GET", "/v1/auth/me?token=" + t["token"])
    with open(os.path.join(h.run_dir(), "master.key")) as f:
        h.remember_secrets(f.read().strip())
    # The test stack's Redis asks every connection for AUTH.
    assert os.environ.get("HERALD_REDIS_PASSWORD"), "the test stack runs Redis with requirepass"
    h.remember_secrets(os.environ["HERALD_REDIS_PASSWORD"])
    assert len(h.SECRETS) >= 8
    files = [f for f in h.all_log_files() if os.path.isfile(f)]
    assert files
    leaks = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
        for s in h.SECRETS:
            if s in data:
                leaks.append((os.path.basename(path), s[:10] + "…"))
    assert not leaks, f"secrets in logs: {leaks}"


# ---------------------------------------------------------------------------
# HTTPS, redirects, headers.

def test_https_certificate_verifies_and_headers_are_set():
    assert h.env("HERALD_BASE_URL").startswith("https://")
    r = api("GET", "/healthz")
    assert r.status == 200
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Server"] == "nginx", "version banner shown"
    r = api("GET", "/v1/nope")
    assert r.status == 404 and r.headers["X-Content-Type-Options"] == "nosniff"


def test_plain_http_redirects_to_https():
    port = int(os.environ["HERALD_HTTP_PORT"])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/v1/notifications?x=1", body=b"{}", headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 308, r.status
    loc = urllib.parse.urlsplit(r.getheader("Location"))
    base = urllib.parse.urlsplit(h.env("HERALD_BASE_URL"))
    assert loc.scheme == "https" and loc.port == base.port and loc.path == "/v1/notifications"
    assert loc.query == "x=1"
    assert (r.getheader("Server") or "") == "nginx"


def test_untrusted_certificate_is_refused_by_a_verifying_client():
    base = urllib.parse.urlsplit(h.env("HERALD_BASE_URL"))
    ctx = ssl.create_default_context(cafile=None)  # the system CAs do not know the local CA
    c = http.client.HTTPSConnection(base.hostname, base.port, timeout=10, context=ctx)
    with pytest.raises(ssl.SSLError):
        c.request("GET", "/healthz")
    c.close()


def test_provider_credentials_are_sealed_at_rest(pair, db):
    _a, b = pair
    make_integration(b)
    with db.cursor() as cur:
        cur.execute("SELECT credentials FROM integrations WHERE environment_id = %s AND channel = 'slack'",
                    (b.dev_env,))
        (sealed,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM integrations WHERE credentials LIKE %s", ("%" + SLACK_TOKEN + "%",))
        assert cur.fetchone()[0] == 0
    assert SLACK_TOKEN not in sealed and "bot_token" not in sealed
    assert len(sealed) > len(SLACK_TOKEN)  # nonce + MAC + ciphertext, base64
