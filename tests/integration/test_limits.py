"""Per-environment rate limit and monthly quota, checked in the send path's
single Redis round trip: 429 rate_limited / quota_exceeded with Retry-After
and RateLimit-* headers; refused requests and idempotent replays are not
counted; GET /v1/usage shows the month per environment and channel; nginx's
own 413/429 answers have the API's JSON error shape."""

import datetime
import uuid

import pytest

import herald_helpers as h
from herald_helpers import api, assert_json_error, member_api, signup


def custom_plan(db, tenant_id, rate=None, quota=None):
    """Must run before the tenant's keys are first used (API processes cache
    a key's limits with it)."""
    with db.cursor() as cur:
        cur.execute("UPDATE tenants SET plan = 'custom', rate_limit = %s, monthly_quota = %s WHERE id = %s",
                    (rate, quota, tenant_id))


def send(key, payload=None, **kw):
    return api("POST", "/v1/notifications", body=payload or h.notification(channels=["in_app"]), key=key, **kw)


def exhaust_rate(rds, environment_id, limit):
    """Uses up the environment's rate limit for the next two minutes, whatever
    the window: the send path's counter (herald:rl:<env>:<window start>) is
    set to the limit for every second around the Redis clock's now."""
    now = int(rds.time()[0])
    p = rds.pipeline()
    for ws in range(now - 120, now + 120):
        p.set(f"herald:rl:{environment_id}:{ws}", limit, ex=300)
    p.execute()


def assert_limit_headers(r, limit):
    assert int(r.headers["RateLimit-Limit"]) == limit, r.headers
    assert int(r.headers["RateLimit-Remaining"]) >= 0
    assert int(r.headers["Retry-After"]) >= 1
    assert int(r.headers["RateLimit-Reset"]) >= 1


def test_rate_limit_per_environment(db, rds):
    m = signup()
    custom_plan(db, m.tenant_id, rate=3, quota=None)
    # The window is 1 s: within a few tries, 4 quick sends meet the limit.
    for _attempt in range(10):
        statuses = []
        for _ in range(6):
            r = send(m.dev_key)
            statuses.append(r.status)
            if r.status == 429:
                break
        if 429 in statuses:
            break
    else:
        pytest.fail(f"never rate limited: {statuses}")
    assert_json_error(r, 429, "rate_limited")
    assert_limit_headers(r, 3)
    assert int(r.headers["RateLimit-Remaining"]) == 0
    assert int(r.headers["Retry-After"]) <= 1
    # the refused request was not enqueued (the limit is held used up, so the
    # refusal does not depend on the window's timing), and the limit is per
    # environment
    exhaust_rate(rds, m.dev_env, 3)
    before = h.ingest_marker(rds)
    r2 = send(m.dev_key)
    assert_json_error(r2, 429, "rate_limited")
    assert_limit_headers(r2, 3)
    assert "reset_at" in r2.json["error"], r2
    assert h.ingest_marker(rds) == before
    assert send(m.prod_key).status == 202
    # another tenant is not affected
    other = signup()
    assert send(other.dev_key).status == 202


def test_quota_counts_accepted_notifications_only(db, rds):
    m = signup()
    custom_plan(db, m.tenant_id, rate=1000, quota=3)
    idem = "order-" + uuid.uuid4().hex
    same = h.notification(channels=["in_app"])
    r = send(m.dev_key, same, headers={"Idempotency-Key": idem})
    assert r.status == 202, r
    first = r.json["id"]
    assert send(m.prod_key).status == 202  # the quota is per tenant: both environments count
    # a refused request is not counted
    r = api("POST", "/v1/notifications", body={"user": {"id": "u"}}, key=m.dev_key)
    assert r.status == 422
    # replays are not counted
    for _ in range(3):
        r = send(m.dev_key, same, headers={"Idempotency-Key": idem})
        assert r.status == 200 and r.json["id"] == first, r
    # a batch of two with one left: refused whole, nothing enqueued
    before = h.ingest_marker(rds)
    batch = {"notifications": [h.notification(channels=["in_app"]), h.notification(channels=["in_app"])]}
    r = api("POST", "/v1/notifications/batch", body=batch, key=m.dev_key)
    err = assert_json_error(r, 429, "quota_exceeded")
    assert h.ingest_marker(rds) == before
    assert int(r.headers["RateLimit-Remaining"]) == 1
    assert send(m.dev_key).status == 202  # the last one
    r = send(m.dev_key)
    err = assert_json_error(r, 429, "quota_exceeded")
    assert_limit_headers(r, 3)
    assert int(r.headers["RateLimit-Remaining"]) == 0
    now = datetime.datetime.now(datetime.timezone.utc)
    nxt = (now.replace(day=28) + datetime.timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0,
                                                                       microsecond=0)
    assert err["reset_at"] == nxt.strftime("%Y-%m-%dT%H:%M:%SZ"), err
    assert abs(int(r.headers["Retry-After"]) - (nxt - now).total_seconds()) < 60
    # a replay of an accepted request still answers after the quota is used up
    r = send(m.dev_key, same, headers={"Idempotency-Key": idem})
    assert r.status == 200 and r.json["id"] == first, r

    # usage shows the month per environment and channel
    r = member_api(m, "GET", "/v1/usage")
    assert r.status == 200, r
    u = r.json
    assert u["plan"] == "custom" and u["quota"]["limit"] == 3 and u["quota"]["used"] == 3
    assert u["quota"]["remaining"] == 0 and u["quota"]["resets_at"] == err["reset_at"]
    assert u["month"] == now.strftime("%Y-%m")
    envs = {e["id"]: e for e in u["environments"]}
    assert envs[m.dev_env]["notifications"] == 2 and envs[m.dev_env]["channels"] == {"in_app": 2}
    assert envs[m.prod_env]["notifications"] == 1
    # with an API key: its own environment only
    r = api("GET", "/v1/usage", key=m.prod_key)
    assert r.status == 200, r
    assert [e["id"] for e in r.json["environments"]] == [m.prod_env]


def test_usage_counts_channels_and_validates_month():
    m = signup()
    r = api("POST", "/v1/notifications",
            body=h.notification(email=h.unique_email(), channels=["email", "in_app", "sms"]), key=m.dev_key)
    assert r.status == 202, r
    r = api("GET", "/v1/usage", key=m.dev_key)
    env = r.json["environments"][0]
    assert env["channels"] == {"email": 1, "in_app": 1, "sms": 1} and env["notifications"] == 1
    assert r.json["plan"] == "free" and r.json["quota"]["limit"] > 0
    r = api("GET", "/v1/usage?month=2020-01", key=m.dev_key)
    assert r.status == 200 and r.json["environments"][0]["notifications"] == 0, r
    for bad in ["2020-13", "2020-1", "abc", "2020-01-01"]:
        assert_json_error(api("GET", f"/v1/usage?month={bad}", key=m.dev_key), 422, "validation_failed", "month")
    assert_json_error(api("GET", "/v1/usage"), 401, "unauthorized")


def test_batch_counts_each_channel_and_every_counter_expires(db, rds):
    """The script adds a batch's channels up before it writes them, and gives
    each counter its expiry when it creates it (not on every send)."""
    m = signup()
    custom_plan(db, m.tenant_id, rate=1000, quota=1000)
    batch = {"notifications": [
        h.notification(email=h.unique_email(), channels=["email", "in_app"]),
        h.notification(channels=["in_app"]),
        h.notification(email=h.unique_email(), channels=["email", "in_app", "sms"]),
    ]}
    r = api("POST", "/v1/notifications/batch", body=batch, key=m.dev_key)
    assert r.status == 200 and [x["status"] for x in r.json["results"]] == [202] * 3, r
    assert send(m.dev_key).status == 202
    r = api("GET", "/v1/usage", key=m.dev_key)
    env = r.json["environments"][0]
    assert env["notifications"] == 4 and env["channels"] == {"email": 2, "in_app": 4, "sms": 1}, env
    assert r.json["quota"]["used"] == 4, r.json
    month = datetime.datetime.fromtimestamp(int(rds.time()[0]), datetime.timezone.utc).strftime("%Y%m")
    for key in (f"herald:usage:{m.tenant_id}:{month}", f"herald:quota:{m.tenant_id}:{month}"):
        assert 300 * 86400 < rds.ttl(key) <= 34560000, key
    windows = [k for k in rds.scan_iter(f"herald:rl:{m.dev_env}:*")]
    assert windows and all(0 < rds.ttl(k) <= 3601 for k in windows), windows


def test_nginx_413_has_the_json_error_shape():
    big = "x" * (2 * 1024 * 1024)
    r = api("POST", "/v1/auth/signup", raw=big)
    assert_json_error(r, 413, "payload_too_large")
