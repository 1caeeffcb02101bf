"""Projects, environments and API keys: project CRUD by a member, key create /
list (never the secret) / rotate (the old key works for the grace period) /
revoke (at once, in every API process), last-used time, end-user tokens and
the signing-secret rotation, and refusal of bad input naming the field."""

import time

import pytest

import herald_helpers as h
from herald_helpers import api, assert_json_error, member_api, signup


def send(key):
    return api("POST", "/v1/notifications", body=h.notification(channels=["in_app"]), key=key)


# ---------------------------------------------------------------- projects

def test_project_crud(db):
    m = signup()
    r = member_api(m, "GET", "/v1/projects")
    assert r.status == 200, r
    assert [p["id"] for p in r.json["data"]] == [m.project_id]

    r = member_api(m, "POST", "/v1/projects", body={"name": "Mobile app"})
    assert r.status == 201, r
    p = r.json
    assert p["name"] == "Mobile app"
    dev, prod = p["environments"]["development"], p["environments"]["production"]
    assert dev["api_key"].startswith("hk_test_") and prod["api_key"].startswith("hk_live_")
    r = send(dev["api_key"])
    assert r.status == 202, r
    # let the pipeline finish with it before the project (and its data) goes
    h.wait_notification(dev["api_key"], r.json["id"], lambda d: d["status"] == "completed")

    r = member_api(m, "GET", f"/v1/projects/{p['id']}")
    assert r.status == 200, r
    assert {e["kind"] for e in r.json["environments"]} == {"development", "production"}
    assert "api_key" not in r.raw.decode()

    r = member_api(m, "PATCH", f"/v1/projects/{p['id']}", body={"name": "Mobile"})
    assert r.status == 200 and r.json["name"] == "Mobile", r
    r = member_api(m, "GET", "/v1/projects")
    assert len(r.json["data"]) == 2

    r = member_api(m, "DELETE", f"/v1/projects/{p['id']}")
    assert r.status == 204, r
    r = member_api(m, "GET", f"/v1/projects/{p['id']}")
    assert_json_error(r, 404, "not_found")
    # its keys stop working at once (in every API process, cached or not)
    for _ in range(8):
        assert_json_error(send(dev["api_key"]), 401, "unauthorized")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM environments WHERE project_id = %s", (p["id"],))
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("body,field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": 3}, "name"), ({"name": "x" * 201}, "name"),
    ({"name": "ok", "kind": "x"}, "kind"),
])
def test_project_bad_input(db, body, field):
    m = signup()
    r = member_api(m, "POST", "/v1/projects", body=body)
    assert_json_error(r, 422, "validation_failed", field)
    r = member_api(m, "PATCH", f"/v1/projects/{m.project_id}", body=body)
    assert_json_error(r, 422, "validation_failed", field)
    with db.cursor() as cur:
        cur.execute("SELECT name FROM projects WHERE tenant_id = %s", (m.tenant_id,))
        assert [r[0] for r in cur.fetchall()] == ["Default"]


def test_unknown_project_is_404():
    m = signup()
    for pid in ["not-a-uuid", h.random_uuid7()]:
        assert_json_error(member_api(m, "GET", f"/v1/projects/{pid}"), 404, "not_found")
        assert_json_error(member_api(m, "PATCH", f"/v1/projects/{pid}", body={"name": "x"}), 404, "not_found")
        assert_json_error(member_api(m, "DELETE", f"/v1/projects/{pid}"), 404, "not_found")


# ---------------------------------------------------------------- keys

def key_ids(resp):
    return [k["id"] for k in resp.json["data"]]


def test_key_create_list_revoke(db):
    m = signup()
    r = member_api(m, "GET", f"/v1/keys?environment_id={m.dev_env}")
    assert r.status == 200, r
    assert len(r.json["data"]) == 1
    k0 = r.json["data"][0]
    assert k0["prefix"] == "hk_test_" and k0["last4"] == m.dev_key[-4:]
    assert "key" not in k0 and m.dev_key not in r.raw.decode()

    r = member_api(m, "POST", "/v1/keys", body={"environment_id": m.prod_env, "name": "ci"})
    assert r.status == 201, r
    new = r.json
    assert new["key"].startswith("hk_live_") and new["name"] == "ci" and new["last4"] == new["key"][-4:]
    assert send(new["key"]).status == 202
    r = member_api(m, "GET", f"/v1/keys?environment_id={m.prod_env}")
    assert set(key_ids(r)) == {new["id"], *[k["id"] for k in r.json["data"] if k["id"] != new["id"]]}
    assert new["key"] not in r.raw.decode()
    with db.cursor() as cur:
        cur.execute("SELECT key_hash, prefix, last4 FROM api_keys WHERE id = %s", (new["id"],))
        kh, prefix, last4 = cur.fetchone()
        assert new["key"] not in (kh, prefix, last4) and len(kh) == 64

    # warm every API process's cache with the key, then revoke: refused at once
    for _ in range(12):
        assert send(new["key"]).status == 202
    r = member_api(m, "DELETE", f"/v1/keys/{new['id']}")
    assert r.status == 204, r
    for _ in range(12):
        assert_json_error(send(new["key"]), 401, "unauthorized")
    r = member_api(m, "GET", f"/v1/keys?environment_id={m.prod_env}")
    revoked = [k for k in r.json["data"] if k["id"] == new["id"]][0]
    assert revoked["revoked_at"] is not None
    assert_json_error(member_api(m, "DELETE", f"/v1/keys/{new['id']}"), 404, "not_found")
    # the other production key still works
    assert send(m.prod_key).status == 202


def test_api_key_manages_keys_of_its_own_environment_only():
    m = signup()
    r = api("GET", "/v1/keys", key=m.dev_key)
    assert r.status == 200 and len(r.json["data"]) == 1, r
    r = api("GET", f"/v1/keys?environment_id={m.prod_env}", key=m.dev_key)
    assert_json_error(r, 404, "not_found", "environment_id")
    r = api("POST", "/v1/keys", body={"environment_id": m.prod_env}, key=m.dev_key)
    assert_json_error(r, 404, "not_found", "environment_id")
    prod_key_id = member_api(m, "GET", f"/v1/keys?environment_id={m.prod_env}").json["data"][0]["id"]
    assert_json_error(api("DELETE", f"/v1/keys/{prod_key_id}", key=m.dev_key), 404, "not_found")
    assert_json_error(api("POST", f"/v1/keys/{prod_key_id}/rotate", body={}, key=m.dev_key), 404, "not_found")
    r = api("POST", "/v1/keys", body={"name": "second"}, key=m.dev_key)
    assert r.status == 201 and r.json["key"].startswith("hk_test_"), r


def test_rotation_keeps_the_old_key_for_the_grace_period():
    m = signup()
    kid = member_api(m, "GET", f"/v1/keys?environment_id={m.dev_env}").json["data"][0]["id"]
    for _ in range(8):
        assert send(m.dev_key).status == 202  # cached in the API processes
    r = member_api(m, "POST", f"/v1/keys/{kid}/rotate", body={"grace_seconds": 3})
    assert r.status == 201, r
    new = r.json
    assert new["key"].startswith("hk_test_") and new["id"] != kid
    assert new["replaces"]["id"] == kid and new["replaces"]["expires_at"]
    assert send(new["key"]).status == 202
    assert send(m.dev_key).status == 202, "the old key must work during the grace period"
    time.sleep(4.2)
    for _ in range(8):
        assert_json_error(send(m.dev_key), 401, "unauthorized")
    assert send(new["key"]).status == 202
    # rotating an expired key: 404
    assert_json_error(member_api(m, "POST", f"/v1/keys/{kid}/rotate", body={}), 404, "not_found")


def test_rotation_default_grace_is_24h_and_zero_ends_now():
    m = signup()
    kid = member_api(m, "GET", f"/v1/keys?environment_id={m.prod_env}").json["data"][0]["id"]
    r = member_api(m, "POST", f"/v1/keys/{kid}/rotate")
    assert r.status == 201, r
    exp = r.json["replaces"]["expires_at"]
    t = time.mktime(time.strptime(exp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(t - (time.time() + 86400)) < 120, exp
    assert send(m.prod_key).status == 202
    new = r.json
    r = member_api(m, "POST", f"/v1/keys/{new['id']}/rotate", body={"grace_seconds": 0})
    assert r.status == 201, r
    for _ in range(8):
        assert_json_error(send(new["key"]), 401, "unauthorized")
    assert send(r.json["key"]).status == 202


@pytest.mark.parametrize("body,status,field", [
    ({"grace_seconds": -1}, 422, "grace_seconds"),
    ({"grace_seconds": "60"}, 422, "grace_seconds"),
    ({"grace_seconds": 10 ** 9}, 422, "grace_seconds"),
    ({"grace": 5}, 422, "grace"),
])
def test_rotate_bad_input(db, body, status, field):
    m = signup()
    kid = member_api(m, "GET", f"/v1/keys?environment_id={m.dev_env}").json["data"][0]["id"]
    r = member_api(m, "POST", f"/v1/keys/{kid}/rotate", body=body)
    assert_json_error(r, status, "validation_failed", field)
    with db.cursor() as cur:
        cur.execute("SELECT count(*), count(expires_at) FROM api_keys WHERE environment_id = %s", (m.dev_env,))
        assert cur.fetchone() == (1, 0)


@pytest.mark.parametrize("body,status,code,field", [
    ({}, 422, "validation_failed", "environment_id"),
    ({"environment_id": 5}, 422, "validation_failed", "environment_id"),
    ({"environment_id": "nope"}, 404, "not_found", "environment_id"),
    ({"environment_id": "01a2024a-df9e-7fbc-94f2-7f5663a5c122"}, 404, "not_found", "environment_id"),
    ({"environment_id": "ENV", "name": "x" * 101}, 422, "validation_failed", "name"),
    ({"environment_id": "ENV", "name": 7}, 422, "validation_failed", "name"),
    ({"environment_id": "ENV", "scopes": []}, 422, "validation_failed", "scopes"),
])
def test_key_create_bad_input(db, body, status, code, field):
    m = signup()
    if body.get("environment_id") == "ENV":
        body = dict(body, environment_id=m.dev_env)
    r = member_api(m, "POST", "/v1/keys", body=body)
    assert_json_error(r, status, code, field)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM api_keys k JOIN environments e ON e.id = k.environment_id"
                    " WHERE e.tenant_id = %s", (m.tenant_id,))
        assert cur.fetchone()[0] == 2


def test_last_used_is_recorded_without_a_write_per_request(db):
    m = signup()
    kid = member_api(m, "GET", f"/v1/keys?environment_id={m.dev_env}").json["data"][0]["id"]
    assert member_api(m, "GET", f"/v1/keys?environment_id={m.dev_env}").json["data"][0]["last_used_at"] is None

    def used():
        assert send(m.dev_key).status == 202
        with db.cursor() as cur:
            cur.execute("SELECT last_used_at FROM api_keys WHERE id = %s", (kid,))
            return cur.fetchone()[0]

    h.wait_for(used, timeout=20, interval=0.3, desc="last_used_at")
    r = member_api(m, "GET", f"/v1/keys?environment_id={m.dev_env}")
    assert h.TS_RE.match(r.json["data"][0]["last_used_at"]), r


# ---------------------------------------------------------------- end-user tokens

def test_user_token_issue():
    m = signup()
    r = api("POST", "/v1/users/user-42/token", body={"ttl": 600}, key=m.dev_key)
    assert r.status == 200, r
    doc = r.json
    assert doc["user_id"] == "user-42" and doc["environment_id"] == m.dev_env
    assert doc["expires_in"] == 600
    import base64, json
    head, payload, _sig = doc["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "user-42" and claims["env"] == m.dev_env and claims["typ"] == "user"
    assert claims["exp"] - claims["iat"] == 600
    assert json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"] == "HS256"
    # default ttl
    r = api("POST", "/v1/users/user-42/token", key=m.dev_key)
    assert r.status == 200 and r.json["expires_in"] == 3600, r


@pytest.mark.parametrize("path,body,status,code,field", [
    ("/v1/users/u1/token", {"ttl": 0}, 422, "validation_failed", "ttl"),
    ("/v1/users/u1/token", {"ttl": 30 * 86400 + 1}, 422, "validation_failed", "ttl"),
    ("/v1/users/u1/token", {"ttl": "60"}, 422, "validation_failed", "ttl"),
    ("/v1/users/u1/token", {"ttl": 60, "scope": "x"}, 422, "validation_failed", "scope"),
    ("/v1/users/" + "u" * 256 + "/token", {"ttl": 60}, 422, "validation_failed", "id"),
])
def test_user_token_bad_input(path, body, status, code, field):
    m = signup()
    r = api("POST", path, body=body, key=m.dev_key)
    assert_json_error(r, status, code, field)


def test_user_token_needs_an_api_key():
    m = signup()
    assert_json_error(api("POST", "/v1/users/u1/token", body={"ttl": 60}), 401, "unauthorized")
    r = member_api(m, "POST", "/v1/users/u1/token", body={"ttl": 60})
    assert_json_error(r, 401, "unauthorized")


def test_signing_secret_rotation(db):
    m = signup()
    r = api("POST", "/v1/users/u1/token", body={"ttl": 60}, key=m.dev_key)
    assert r.status == 200
    with db.cursor() as cur:
        cur.execute("SELECT signing_secret FROM environments WHERE id = %s", (m.dev_env,))
        (before,) = cur.fetchone()
    assert before and len(before) > 60  # sealed, never the raw secret
    r = member_api(m, "POST", f"/v1/environments/{m.dev_env}/signing-secret/rotate", body={"grace_seconds": 60})
    assert r.status == 200, r
    with db.cursor() as cur:
        cur.execute("SELECT signing_secret, signing_previous, signing_previous_until > now()"
                    " FROM environments WHERE id = %s", (m.dev_env,))
        now_s, prev, in_grace = cur.fetchone()
    assert prev == before and now_s != before and in_grace
    other = signup()
    r = member_api(other, "POST", f"/v1/environments/{m.dev_env}/signing-secret/rotate", body={})
    assert_json_error(r, 404, "not_found")
    r = member_api(m, "POST", f"/v1/environments/{m.dev_env}/signing-secret/rotate", body={"grace_seconds": -5})
    assert_json_error(r, 422, "validation_failed", "grace_seconds")


def test_user_token_is_accepted_by_the_inbox_for_its_environment_only():
    a, b = signup(), signup()
    user = "inbox-" + h.unique_user_id()
    ids = {}
    for label, key in (("a", a.dev_key), ("a-prod", a.prod_key), ("b", b.dev_key)):
        r = api("POST", "/v1/notifications", body=h.notification(channels=["in_app"], user={"id": user},
                                                                  title=f"for {label}"), key=key)
        assert r.status == 202, r
        ids[label] = r.json["id"]
    tok = api("POST", f"/v1/users/{user}/token", body={"ttl": 300}, key=a.dev_key).json["token"]
    h.remember_secrets(tok)
    auth = {"Authorization": "Bearer " + tok}

    def listed():
        r = api("GET", "/v1/inbox", headers=auth)
        assert r.status == 200, r
        return r.json["items"] if r.json["items"] else None

    items = h.wait_for(listed, timeout=20, desc="the in-app item in the inbox")
    titles = {i.get("title") for i in items}
    assert titles == {"for a"}, titles  # not the production environment's, not tenant B's
    # a tampered or foreign token is refused
    head, payload, sig = tok.split(".")
    bad = f"{head}.{payload}.{sig[:-3]}{'AAA' if sig[-3:] != 'AAA' else 'BBB'}"
    assert_json_error(api("GET", "/v1/inbox", headers={"Authorization": "Bearer " + bad}), 401, "unauthorized")
    other = api("POST", f"/v1/users/{user}/token", body={"ttl": 300}, key=b.dev_key).json["token"]
    h.remember_secrets(other)
    r = api("GET", "/v1/inbox", headers={"Authorization": "Bearer " + other})
    assert r.status == 200 and {i.get("title") for i in r.json["items"]} <= {"for b"}, r
