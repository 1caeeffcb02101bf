"""Every send path is metered the same way: POST /v1/events,
POST /v1/templates/{key}/test and POST /v1/integrations/{channel}/test count
against the rate limit, the monthly quota and the usage like
POST /v1/notifications, and a refusal is the same 429 (Retry-After,
RateLimit-Limit/-Remaining/-Reset, error.reset_at) that enqueues nothing.
The integration test send checks `to` per channel like stored addresses."""

import datetime

import herald_helpers as h
import provider_helpers as ph
from content_helpers import key_name, put_template
from herald_helpers import api, assert_json_error, signup
from test_limits import custom_plan, exhaust_rate

TEMPLATE = {"channels": {"email": {"subject": "Test {{title}}", "text": "text {{title}}"}},
            "sample": {"title": "Sample"}}


def next_month_start():
    now = datetime.datetime.now(datetime.timezone.utc)
    nxt = (now.replace(day=28) + datetime.timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0,
                                                                       microsecond=0)
    return now, nxt


def assert_refused(r, code, limit, remaining=0):
    """The one 429 of the send paths: code, all the limit headers, reset_at."""
    err = assert_json_error(r, 429, code)
    assert int(r.headers["RateLimit-Limit"]) == limit, r.headers
    assert int(r.headers["RateLimit-Remaining"]) == remaining, r.headers
    assert int(r.headers["RateLimit-Reset"]) >= 1, r.headers
    assert int(r.headers["Retry-After"]) >= 1, r.headers
    reset_at = datetime.datetime.strptime(err["reset_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert reset_at > now - datetime.timedelta(seconds=2), err
    if code == "quota_exceeded":
        assert err["reset_at"] == next_month_start()[1].strftime("%Y-%m-%dT%H:%M:%SZ"), err
    else:
        assert reset_at < now + datetime.timedelta(seconds=int(r.headers["RateLimit-Reset"]) + 2), err
    return err


def event(key):
    return api("POST", "/v1/events", body={"type": "metering.check", "description": "d"}, key=key)


def template_test(key, tpl, to=None):
    return api("POST", f"/v1/templates/{tpl}/test",
               body={"channel": "email", "to": to or h.unique_email("meter")}, key=key)


def telegram(m, provider_fake):
    """A telegram integration on the loopback fake for the member's dev environment."""
    prefix = provider_fake.prefix("meter")
    ph.put_integration(m.dev_key, "telegram", "telegram", {"bot_token": "123456:ABC-def_ghi"},
                       {"base_url": provider_fake.url + prefix})
    return prefix


def integ_test(key, to="9001"):
    return api("POST", "/v1/integrations/telegram/test", body={"to": to}, key=key)


def usage(key):
    r = api("GET", "/v1/usage", key=key)
    assert r.status == 200, r
    return r.json


def test_rate_limited_answers_are_the_same_on_every_send_path(db, rds, provider_fake):
    m = signup()
    custom_plan(db, m.tenant_id, rate=5, quota=None)
    tpl = key_name("meter")
    assert put_template(tpl, m.dev_key, TEMPLATE).status == 201
    telegram(m, provider_fake)
    exhaust_rate(rds, m.dev_env, 5)
    before = h.ingest_marker(rds)
    for r in (api("POST", "/v1/notifications", body=h.notification(channels=["in_app"]), key=m.dev_key),
              event(m.dev_key), template_test(m.dev_key, tpl), integ_test(m.dev_key)):
        assert_refused(r, "rate_limited", 5)
        assert int(r.headers["Retry-After"]) == int(r.headers["RateLimit-Reset"]), r.headers
    # nothing was enqueued or counted
    assert h.ingest_marker(rds) == before
    assert usage(m.dev_key)["environments"][0]["notifications"] == 0
    # the other environment is not limited
    assert event(m.prod_key).status == 202


def test_quota_exceeded_answers_are_the_same_on_every_send_path(db, rds, provider_fake):
    m = signup()
    custom_plan(db, m.tenant_id, rate=1000, quota=3)
    tpl = key_name("meter")
    assert put_template(tpl, m.dev_key, TEMPLATE).status == 201
    telegram(m, provider_fake)
    # one of each counts against the quota ...
    r = event(m.dev_key)
    assert r.status == 202, r
    r = template_test(m.dev_key, tpl)
    assert r.status == 202, r
    r = integ_test(m.dev_key)
    assert r.status == 202, r
    # ... which is now used up: every path refuses, nothing is enqueued
    before = h.ingest_marker(rds)
    for r in (api("POST", "/v1/notifications", body=h.notification(channels=["in_app"]), key=m.dev_key),
              event(m.dev_key), template_test(m.dev_key, tpl), integ_test(m.dev_key)):
        assert_refused(r, "quota_exceeded", 3)
    assert h.ingest_marker(rds) == before
    u = usage(m.dev_key)
    assert u["quota"]["used"] == 3 and u["quota"]["remaining"] == 0, u
    env = u["environments"][0]
    assert env["notifications"] == 3, env
    # the test sends count their channel too (an event's channels are its type's)
    assert env["channels"].get("email") == 1 and env["channels"].get("telegram") == 1, env


def test_integration_test_send_is_metered_and_delivered(db, rds, provider_fake):
    m = signup()
    custom_plan(db, m.tenant_id, rate=1000, quota=2)
    prefix = telegram(m, provider_fake)
    r = integ_test(m.dev_key, "9001")
    assert r.status == 202 and r.json["status"] == "accepted", r
    h.assert_uuid7(r.json["notification_id"])
    # it went through the send path: the router stored it with one delivery
    d = ph.wait_delivery(m.dev_key, r.json["notification_id"], "telegram", "sent")
    assert d["id"] == r.json["delivery_id"] and d["address"] == "9001", d
    doc = h.get_notification(m.dev_key, r.json["notification_id"]).json
    assert [x["channel"] for x in doc["deliveries"]] == ["telegram"], doc
    assert doc["type"] == "herald.test", doc
    (rq,) = provider_fake.requests(prefix)
    assert '"9001"' in rq["body"], rq
    u = usage(m.dev_key)
    assert u["quota"]["used"] == 1, u
    assert u["environments"][0]["channels"] == {"telegram": 1}, u
    # the second uses the quota up; the third is refused and not enqueued
    assert integ_test(m.dev_key, "@herald_channel").status == 202
    before = h.ingest_marker(rds)
    assert_refused(integ_test(m.dev_key), "quota_exceeded", 2)
    assert h.ingest_marker(rds) == before
    assert usage(m.dev_key)["quota"]["used"] == 2


def test_integration_test_checks_to_per_channel(tenant):
    bad = [
        ("email", "not-an-email"),
        ("sms", "555"),
        ("whatsapp", "14155550100"),
        ("telegram", "chat-abc"),
        ("telegram", "@abc"),
        ("discord", "abc"),
        ("discord", "12345"),
        ("discord", "ftp://example.com/hook"),
        ("slack", "has space"),
        ("slack", "a,b"),
        ("slack", "ftp://example.com/hook"),
        ("telegram", "1\n2"),
    ]
    for channel, to in bad:
        r = api("POST", f"/v1/integrations/{channel}/test", body={"to": to}, key=tenant.key)
        assert_json_error(r, 422, "validation_failed", "to")
    assert_json_error(api("POST", "/v1/integrations/email/test", body={}, key=tenant.key),
                      422, "validation_failed", "to")
    assert_json_error(api("POST", "/v1/integrations/email/test", body={"to": 5}, key=tenant.key),
                      422, "validation_failed", "to")
    # a valid address for a channel without an integration: 404, nothing counted
    for channel, to in [("email", "ada@example.com"), ("sms", "+14155550100"), ("telegram", "-100123"),
                        ("discord", "80351110224678912"), ("slack", "C0123456789"),
                        ("whatsapp", "+14155550100")]:
        r = api("POST", f"/v1/integrations/{channel}/test", body={"to": to}, key=tenant.key)
        assert_json_error(r, 404, "not_found")
    assert usage(tenant.key)["environments"][0]["notifications"] == 0
