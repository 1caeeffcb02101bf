"""OAuth sign-in (authorization-code flow with state) against a loopback fake
of GitHub and Google (tests/fakes/oauth_fake.py). The stack's herald.conf gets
an [oauth] section pointing at the fake and herald-api reloads it (SIGHUP);
both are undone afterwards."""

import os
import subprocess
import sys
import time
import urllib.parse
import uuid

import pytest

import herald_helpers as h
from herald_helpers import api, assert_json_error, member_api, signup

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from oauth_fake import OAuthFake  # noqa: E402


def reload_api():
    subprocess.run([h.env("HERALD_SCRIPTS"), "reload", "api"], check=True, capture_output=True,
                   env=dict(os.environ), timeout=30)


@pytest.fixture(scope="module")
def fake():
    f = OAuthFake().start()
    conf = h.env("HERALD_CONFIG")
    with open(conf) as fh:
        original = fh.read()
    section = "\n[oauth]\n"
    for p, userinfo in (("github", "/github/user"), ("google", "/google/userinfo")):
        section += (f"{p}_client_id = {f.client_id}\n{p}_client_secret = {f.client_secret}\n"
                    f"{p}_authorize_url = {f.url('/' + p + '/authorize')}\n"
                    f"{p}_token_url = {f.url('/' + p + '/token')}\n"
                    f"{p}_userinfo_url = {f.url(userinfo)}\n")
    with open(conf, "a") as fh:
        fh.write(section)
    try:
        reload_api()
        # every API child reloads on the signal; wait until the routes answer
        h.wait_for(lambda: all(api("GET", "/v1/auth/oauth/google/start").status == 302 for _ in range(8)),
                   timeout=15, desc="herald-api to reload [oauth]")
        yield f
    finally:
        with open(conf, "w") as fh:
            fh.write(original)
        reload_api()
        f.stop()


def start(provider):
    r = api("GET", f"/v1/auth/oauth/{provider}/start")
    assert r.status == 302, r
    loc = r.headers["Location"]
    assert r.json["url"] == loc
    u = urllib.parse.urlsplit(loc)
    q = dict(urllib.parse.parse_qsl(u.query))
    assert q["response_type"] == "code" and len(q["state"]) == 64
    return loc, q


def follow_provider(fake, loc):
    """What the browser does at the provider: /authorize redirects back to
    Herald's callback with code and state; returns the callback path."""
    import http.client

    u = urllib.parse.urlsplit(loc)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", u.path + "?" + u.query)
    resp = c.getresponse()
    resp.read()
    c.close()
    assert resp.status == 302, resp.status
    back = urllib.parse.urlsplit(resp.getheader("Location"))
    return back.path + "?" + back.query


@pytest.mark.parametrize("provider", ["github", "google"])
def test_oauth_sign_up_then_sign_in(fake, provider, db):
    email = h.unique_email(provider + "-")
    user = {"id": str(uuid.uuid4().int % 10 ** 9), "email": email, "verified": True, "name": "Octo Cat"}
    fake.set_next_user(provider, user)
    loc, q = start(provider)
    assert q["client_id"] == fake.client_id
    assert q["redirect_uri"].endswith(f"/v1/auth/oauth/{provider}/callback")
    cb = follow_provider(fake, loc)
    r = api("GET", cb)
    assert r.status == 201, r  # first time: a new tenant
    doc = r.json
    assert doc["member"]["email"] == email and doc["provider"] == provider
    assert doc["environments"]["development"]["api_key"].startswith("hk_test_")
    r = api("GET", "/v1/auth/me", headers={"Authorization": "Bearer " + doc["access_token"]})
    assert r.status == 200 and r.json["email"] == email, r
    # the token exchange carried the client secret; the member has no password
    posts = [x for x in fake.requests if x[0] == "POST"]
    assert posts and "client_secret=" in posts[-1][3]
    with db.cursor() as cur:
        cur.execute("SELECT password_hash FROM members WHERE email = %s", (email,))
        assert cur.fetchone()[0] is None
    # replaying the callback (same state) is refused
    r = api("GET", cb)
    assert_json_error(r, 401, "invalid_state", "state")
    # second sign-in: the same member, no new tenant
    fake.set_next_user(provider, user)
    loc, _ = start(provider)
    r = api("GET", follow_provider(fake, loc))
    assert r.status == 200, r
    assert r.json["member"]["id"] == doc["member"]["id"] and "environments" not in r.json


def test_oauth_links_a_verified_email_to_an_existing_member(fake):
    m = signup()
    fake.set_next_user("github", {"id": "77" + str(uuid.uuid4().int % 10 ** 6), "email": m.email,
                                  "verified": True, "name": "Same Person"})
    loc, _ = start("github")
    r = api("GET", follow_provider(fake, loc))
    assert r.status == 200, r
    assert r.json["member"]["id"] == m.id and r.json["member"]["tenant_id"] == m.tenant_id


def test_oauth_unverified_email_cannot_take_over_an_account(fake):
    m = signup()
    fake.set_next_user("google", {"id": "88" + str(uuid.uuid4().int % 10 ** 6), "email": m.email,
                                  "verified": False})
    loc, _ = start("google")
    r = api("GET", follow_provider(fake, loc))
    assert_json_error(r, 409, "email_taken", "email")


def test_oauth_state_must_be_one_this_server_gave(fake):
    fake.set_next_user("github", {"id": "123", "email": h.unique_email(), "verified": True})
    loc, q = start("github")
    cb = follow_provider(fake, loc)
    forged = cb.replace(q["state"], "0" * 64)
    assert_json_error(api("GET", forged), 401, "invalid_state", "state")
    # a state given for github is not good for google
    loc, q = start("github")
    code = fake.add_code("google", {"id": "5", "email": h.unique_email(), "verified": True})
    r = api("GET", f"/v1/auth/oauth/google/callback?code={code}&state={q['state']}")
    assert_json_error(r, 401, "invalid_state", "state")


@pytest.mark.parametrize("query,status,code,field", [
    ("", 422, "validation_failed", "state"),
    ("?state=abc&code=x", 422, "validation_failed", "state"),
    ("?state=" + "a" * 64, 422, "validation_failed", "code"),
    ("?state=" + "a" * 64 + "&code=" + "c" * 600, 422, "validation_failed", "code"),
    ("?error=access_denied&state=" + "a" * 64, 401, "oauth_denied", "error"),
])
def test_oauth_callback_bad_input(fake, query, status, code, field):
    r = api("GET", "/v1/auth/oauth/github/callback" + query)
    assert_json_error(r, status, code, field)


def test_oauth_bad_code_is_refused(fake):
    _, q = start("google")
    r = api("GET", f"/v1/auth/oauth/google/callback?code=never-issued&state={q['state']}")
    assert_json_error(r, 401, "oauth_failed")


def test_oauth_unknown_provider_is_404(fake):
    assert_json_error(api("GET", "/v1/auth/oauth/myspace/start"), 404, "not_found", "provider")
    assert_json_error(api("GET", "/v1/auth/oauth/myspace/callback?code=x&state=y"), 404, "not_found", "provider")
