"""Accounts and rolling sessions: sign-up (tenant, default project, two
environments and their keys), login, refresh-token rotation, reuse detection,
logout, login throttling, and refusal of bad input naming the field."""

import time
import uuid

import pytest

import herald_helpers as h
from herald_helpers import api, assert_json_error, member_api, signup, unique_email


def members_count(db, email):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM members WHERE email = %s", (email,))
        return cur.fetchone()[0]


def test_signup_creates_tenant_project_environments_and_keys(db):
    email = unique_email("Signup-")
    m = signup(email=" " + email.upper() + " ")
    doc = m.doc
    assert doc["member"]["email"] == email.lower(), doc
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 900
    assert m.dev_key.startswith("hk_test_") and m.prod_key.startswith("hk_live_")
    with db.cursor() as cur:
        cur.execute("SELECT password_hash FROM members WHERE id = %s", (m.id,))
        (ph,) = cur.fetchone()
        assert ph.startswith("$argon2id$"), ph
        cur.execute("SELECT kind FROM environments WHERE project_id = %s ORDER BY kind", (m.project_id,))
        assert [r[0] for r in cur.fetchall()] == ["development", "production"]
        cur.execute("SELECT count(*) FROM refresh_tokens WHERE member_id = %s AND token_hash = %s",
                    (m.id, m.refresh))
        assert cur.fetchone()[0] == 0, "a refresh token is stored in clear"
    # the keys work for sending
    r = api("POST", "/v1/notifications", body=h.notification(channels=["in_app"]), key=m.prod_key)
    assert r.status == 202, r
    # the access token works
    r = member_api(m, "GET", "/v1/auth/me")
    assert r.status == 200, r
    assert r.json["email"] == email.lower() and r.json["tenant"]["id"] == m.tenant_id
    assert r.json["tenant"]["plan"] == "free"


def test_signup_email_is_unique_case_insensitively(db):
    m = signup()
    r = api("POST", "/v1/auth/signup", body={"name": "Again", "email": m.email.upper(), "password": h.DEFAULT_PASSWORD})
    assert_json_error(r, 409, "email_taken", "email")
    assert members_count(db, m.email) == 1


LONG = "x" * 201

SIGNUP_BAD = [
    ({"email": "a@example.com", "password": "long enough pw"}, "name"),
    ({"name": 5, "email": "a@example.com", "password": "long enough pw"}, "name"),
    ({"name": LONG, "email": "a@example.com", "password": "long enough pw"}, "name"),
    ({"name": "", "email": "a@example.com", "password": "long enough pw"}, "name"),
    ({"name": "A\u0001B", "email": "a@example.com", "password": "long enough pw"}, "name"),
    ({"name": "A", "password": "long enough pw"}, "email"),
    ({"name": "A", "email": "not-an-email", "password": "long enough pw"}, "email"),
    ({"name": "A", "email": ["a@example.com"], "password": "long enough pw"}, "email"),
    ({"name": "A", "email": "a" * 250 + "@example.com", "password": "long enough pw"}, "email"),
    ({"name": "A", "email": "a@example.com"}, "password"),
    ({"name": "A", "email": "a@example.com", "password": "short"}, "password"),
    ({"name": "A", "email": "a@example.com", "password": 1234567890123}, "password"),
    ({"name": "A", "email": "a@example.com", "password": "p" * 1025}, "password"),
    ({"name": "A", "email": "a@example.com", "password": "long enough pw", "plan": "pro"}, "plan"),
]


@pytest.mark.parametrize("body,field", SIGNUP_BAD)
def test_signup_refuses_bad_input_naming_the_field(db, body, field):
    email = unique_email("bad-")
    if isinstance(body.get("email"), str) and body["email"] == "a@example.com":
        body = dict(body, email=email)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM tenants")
        before = cur.fetchone()[0]
    r = api("POST", "/v1/auth/signup", body=body)
    assert_json_error(r, 422, "validation_failed", field)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM tenants")
        assert cur.fetchone()[0] == before, "a refused sign-up wrote a tenant"
    assert members_count(db, email) == 0


def test_signup_malformed_json_and_content_type():
    r = api("POST", "/v1/auth/signup", raw="{not json")
    assert_json_error(r, 400, "invalid_json")
    r = api("POST", "/v1/auth/signup", raw="[]")
    assert_json_error(r, 422, "validation_failed")
    r = api("POST", "/v1/auth/signup", raw="{}", headers={"Content-Type": "text/plain"})
    assert_json_error(r, 415, "unsupported_media_type")


def test_login_refresh_rotation_reuse_detection_and_logout():
    m = signup()
    r = api("POST", "/v1/auth/login", body={"email": m.email.upper(), "password": m.password})
    assert r.status == 200, r
    s1 = r.json
    assert s1["member"]["id"] == m.id
    assert s1["refresh_token"] != m.refresh and s1["access_token"] != m.access

    # refresh rotates: a new refresh token each time, the old one is used up
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": s1["refresh_token"]})
    assert r.status == 200, r
    s2 = r.json
    assert s2["refresh_token"] != s1["refresh_token"]
    r = api("GET", "/v1/auth/me", headers={"Authorization": "Bearer " + s2["access_token"]})
    assert r.status == 200, r
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": s2["refresh_token"]})
    assert r.status == 200, r
    s3 = r.json

    # replaying a used token revokes the whole family: s3 stops working too
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": s1["refresh_token"]})
    assert_json_error(r, 401, "unauthorized", "refresh_token")
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": s3["refresh_token"]})
    assert_json_error(r, 401, "unauthorized", "refresh_token")
    r = api("GET", "/v1/auth/me", headers={"Authorization": "Bearer " + s3["access_token"]})
    assert_json_error(r, 401, "unauthorized")

    # other sessions of the member (the sign-up's) are not affected
    r = member_api(m, "GET", "/v1/auth/me")
    assert r.status == 200, r

    # logout with the refresh token ends that session
    r = api("POST", "/v1/auth/logout", body={"refresh_token": m.refresh})
    assert r.status == 204, r
    r = member_api(m, "GET", "/v1/auth/me")
    assert_json_error(r, 401, "unauthorized")
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": m.refresh})
    assert_json_error(r, 401, "unauthorized")

    # logout with only the access token
    r = api("POST", "/v1/auth/login", body={"email": m.email, "password": m.password})
    s4 = r.json
    r = api("POST", "/v1/auth/logout", headers={"Authorization": "Bearer " + s4["access_token"]})
    assert r.status == 204, r
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": s4["refresh_token"]})
    assert_json_error(r, 401, "unauthorized")


def test_refresh_extends_the_session_sliding(db):
    m = signup()
    with db.cursor() as cur:
        cur.execute("SELECT expires_at FROM refresh_tokens WHERE member_id = %s", (m.id,))
        (first,) = cur.fetchone()
    time.sleep(1.1)
    r = api("POST", "/v1/auth/refresh", body={"refresh_token": m.refresh})
    assert r.status == 200, r
    with db.cursor() as cur:
        cur.execute("SELECT expires_at, used_at FROM refresh_tokens WHERE member_id = %s ORDER BY created_at",
                    (m.id,))
        rows = cur.fetchall()
    assert len(rows) == 2 and rows[0][1] is not None and rows[1][1] is None
    assert (rows[1][0] - first).total_seconds() >= 1, "the refresh did not slide the expiry"
    with db.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM %s - now())", (rows[1][0],))
        left = float(cur.fetchone()[0])
    assert 30 * 86400 - 60 < left <= 30 * 86400, left


def test_unknown_email_and_wrong_password_answer_the_same():
    m = signup()
    t0 = time.monotonic()
    wrong = api("POST", "/v1/auth/login", body={"email": m.email, "password": "wrong password!"})
    t_wrong = time.monotonic() - t0
    t0 = time.monotonic()
    unknown = api("POST", "/v1/auth/login", body={"email": unique_email("nobody-"), "password": "wrong password!"})
    t_unknown = time.monotonic() - t0
    e1 = assert_json_error(wrong, 401, "invalid_credentials")
    e2 = assert_json_error(unknown, 401, "invalid_credentials")
    assert e1 == e2
    assert wrong.raw == unknown.raw
    # both verify an Argon2id hash: similar time (generous bounds, shared CI machine)
    assert t_unknown > t_wrong / 4 and t_wrong > t_unknown / 4, (t_wrong, t_unknown)


def test_login_throttled_per_email(rds):
    m = signup()
    for _ in range(10):
        r = api("POST", "/v1/auth/login", body={"email": m.email, "password": "not the password"})
        assert_json_error(r, 401, "invalid_credentials")
    r = api("POST", "/v1/auth/login", body={"email": m.email, "password": m.password})
    assert_json_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    # another member is not affected
    other = signup()
    r = api("POST", "/v1/auth/login", body={"email": other.email, "password": other.password})
    assert r.status == 200, r
    # clean up so the suite's addresses are not throttled
    for k in rds.scan_iter("herald:login:*"):
        rds.delete(k)


def test_login_throttled_per_client_address(rds):
    m = signup()
    rds.set("herald:login:ip:127.0.0.1", 1_000_000, ex=60)
    try:
        r = api("POST", "/v1/auth/login", body={"email": m.email, "password": m.password})
        assert_json_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
    finally:
        rds.delete("herald:login:ip:127.0.0.1")
    r = api("POST", "/v1/auth/login", body={"email": m.email, "password": m.password})
    assert r.status == 200, r


LOGIN_BAD = [
    ({"password": "x"}, "email"),
    ({"email": "nope", "password": "x"}, "email"),
    ({"email": 7, "password": "x"}, "email"),
    ({"email": "a@example.com"}, "password"),
    ({"email": "a@example.com", "password": None}, "password"),
    ({"email": "a@example.com", "password": ["x"]}, "password"),
    ({"email": "a@example.com", "password": "x", "remember": True}, "remember"),
]


@pytest.mark.parametrize("body,field", LOGIN_BAD)
def test_login_refuses_bad_input(body, field):
    r = api("POST", "/v1/auth/login", body=body)
    assert_json_error(r, 422, "validation_failed", field)


@pytest.mark.parametrize("body,status,field", [
    ({}, 422, "refresh_token"),
    ({"refresh_token": 5}, 422, "refresh_token"),
    ({"refresh_token": "x" * 500}, 422, "refresh_token"),
    ({"refresh_token": "hr_rt_" + "A" * 43}, 401, "refresh_token"),
    ({"refresh_token": "not-a-token"}, 401, "refresh_token"),
])
def test_refresh_refuses_bad_tokens(body, status, field):
    r = api("POST", "/v1/auth/refresh", body=body)
    assert_json_error(r, status, "validation_failed" if status == 422 else "unauthorized", field)


@pytest.mark.parametrize("token", [
    None, "", "garbage", "a.b.c",
    # "alg": "none" with a member's claims
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ0eXAiOiJtZW1iZXIiLCJzdWIiOiIwMWEyMDI0YS1kZmEyLTdmZDEtYmQ5YS0yMGRhYTA0MmIzODciLCJ0bnQiOiIwMWEyMDI0YS1kZjlkLTcyNDItOGYxMS0xMThjYWZmMjI5ZjgiLCJmYW0iOiIwMWEyMDI0YS1kZmEzLTc3NWQtOTQyNy1jZTdkNmE1MWQ3MTciLCJleHAiOjk5OTk5OTk5OTl9.",
])
def test_member_routes_refuse_missing_or_forged_tokens(token):
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    for method, path in [("GET", "/v1/auth/me"), ("GET", "/v1/projects"), ("POST", "/v1/projects")]:
        r = api(method, path, headers=headers, body={"name": "x"} if method == "POST" else None)
        assert_json_error(r, 401, "unauthorized")


def test_api_key_is_not_a_member_session():
    m = signup()
    r = api("GET", "/v1/projects", key=m.dev_key)
    assert_json_error(r, 401, "unauthorized")


def test_tampered_access_token_is_refused():
    m = signup()
    head, payload, sig = m.access.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    r = api("GET", "/v1/auth/me", headers={"Authorization": f"Bearer {head}.{payload}.{flipped}"})
    assert_json_error(r, 401, "unauthorized")
