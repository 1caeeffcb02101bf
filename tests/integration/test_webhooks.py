"""Signed webhooks to tenant endpoints: the Standard Webhooks headers and
signature checked by an independent implementation (Python's hmac),
rotation with a two-secret overlap, a tampered body, event-type
subscriptions, retries, the attempt log API, and disabling an endpoint that
keeps failing."""

import base64
import hashlib
import hmac
import json
import time

import herald_helpers as h
import provider_helpers as ph


def verify(secret, headers, body):
    """Standard Webhooks verification: True when any v1 signature matches."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in sigs)


def make_endpoint(tenant, fake, prefix, **extra):
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key,
              body=dict({"url": fake.url + prefix + "/hook", "description": "test"}, **extra))
    assert r.status == 201, r
    assert r.json["secret"].startswith("whsec_")
    return r.json


def test_signed_delivery_verifies_independently(tenant, provider_fake):
    prefix = provider_fake.prefix("wh")
    ep = make_endpoint(tenant, provider_fake, prefix)
    user = h.unique_user_id()
    nid = ph.send(tenant.key, user, ["webhook"], title="Order shipped", data={"order": 7})
    d = ph.wait_delivery(tenant.key, nid, "webhook", "sent")
    assert d["address"] == ep["id"]
    (rq,) = provider_fake.requests(prefix)
    hd = rq["headers"]
    assert hd["content-type"] == "application/json"
    assert hd["webhook-id"] == d["id"]
    assert abs(int(hd["webhook-timestamp"]) - time.time()) < 60
    assert verify(ep["secret"], hd, rq["body"])
    doc = json.loads(rq["body"])
    assert doc["id"] == d["id"] and doc["type"] == "order.shipped"
    assert h.TS_RE.match(doc["timestamp"]), doc
    assert doc["data"]["notification_id"] == nid and doc["data"]["user_id"] == user
    assert doc["data"]["title"] == "Order shipped" and doc["data"]["data"] == {"order": 7}
    # a tampered body or a wrong secret does not verify
    assert not verify(ep["secret"], hd, rq["body"].replace("Order shipped", "Order shipped!"))
    other = make_endpoint(tenant, provider_fake, provider_fake.prefix("wh2"))
    assert not verify(other["secret"], hd, rq["body"])
    # the secret is never shown again
    r = h.api("GET", f"/v1/webhook-endpoints/{ep['id']}", key=tenant.key)
    assert r.status == 200 and "secret" not in r.json and ep["secret"].encode() not in r.raw


def test_rotation_overlap_signs_with_both(tenant, provider_fake):
    prefix = provider_fake.prefix("wh")
    ep = make_endpoint(tenant, provider_fake, prefix)
    r = h.api("POST", f"/v1/webhook-endpoints/{ep['id']}/rotate-secret", key=tenant.key, body={"overlap_s": 3600})
    assert r.status == 200, r
    new = r.json["secret"]
    assert new != ep["secret"] and r.json["previous_secret_until"]
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    ph.wait_delivery(tenant.key, nid, "webhook", "sent")
    (rq,) = provider_fake.requests(prefix)
    sigs = rq["headers"]["webhook-signature"].split()
    assert len(sigs) == 2 and all(s.startswith("v1,") for s in sigs), sigs
    assert verify(new, rq["headers"], rq["body"]) and verify(ep["secret"], rq["headers"], rq["body"])
    # without an overlap the old secret stops at once
    r = h.api("POST", f"/v1/webhook-endpoints/{ep['id']}/rotate-secret", key=tenant.key, body={"overlap_s": 0})
    newest = r.json["secret"]
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    ph.wait_delivery(tenant.key, nid, "webhook", "sent")
    rq = provider_fake.requests(prefix)[1]
    assert len(rq["headers"]["webhook-signature"].split()) == 1
    assert verify(newest, rq["headers"], rq["body"]) and not verify(new, rq["headers"], rq["body"])


def test_event_type_subscription(tenant, provider_fake):
    p1, p2 = provider_fake.prefix("wh"), provider_fake.prefix("wh")
    make_endpoint(tenant, provider_fake, p1, event_types=["invoice.paid"])
    ep2 = make_endpoint(tenant, provider_fake, p2, event_types=["order.shipped", "invoice.paid"])
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    d = ph.wait_delivery(tenant.key, nid, "webhook", "sent")
    assert d["address"] == ep2["id"]
    assert provider_fake.requests(p1) == [] and len(provider_fake.requests(p2)) == 1
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key, body={"url": "http://x.example/", "event_types": ["bad type!"]})
    h.assert_json_error(r, 422, "validation_failed", "event_types[0]")


def test_no_endpoint_is_skipped(tenant):
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook", "in_app"])
    doc = h.wait_notification(tenant.key, nid, lambda doc: h.all_settled(doc, ["webhook", "in_app"]))
    d = h.delivery(doc, "webhook")
    assert d["status"] == "skipped" and d["error"] == "not_configured", d


def test_retries_and_attempt_log(tenant, provider_fake):
    prefix = provider_fake.prefix("wh")
    ep = make_endpoint(tenant, provider_fake, prefix)
    provider_fake.script(prefix, [{"status": 503, "body": "down for maintenance"},
                                  {"status": 400, "body": "bad request from receiver"}],
                         default={"status": 204, "body": ""})
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    d = ph.wait_delivery(tenant.key, nid, "webhook", "sent", timeout=30)
    reqs = provider_fake.requests(prefix)
    assert len(reqs) == 3
    assert len({r["headers"]["webhook-id"] for r in reqs}) == 1  # same id: receivers dedupe
    r = h.api("GET", f"/v1/webhook-endpoints/{ep['id']}/attempts", key=tenant.key)
    assert r.status == 200, r
    log = r.json["data"]
    assert [a["attempt"] for a in log] == [3, 2, 1], log
    assert [a["response_code"] for a in log] == [204, 400, 503]
    assert [a["outcome"] for a in log] == ["sent", "transient", "transient"]
    assert log[2]["response"] == "down for maintenance"
    assert all(isinstance(a["duration_ms"], int) and a["delivery_id"] == d["id"] for a in log)
    # another environment's endpoint does not exist for it
    r = h.api("GET", f"/v1/webhook-endpoints/{ep['id']}/attempts", key=h.create_tenant().key)
    h.assert_json_error(r, 404, "not_found")


def failing_for_days(tenant, fake, db, name, answer):
    """An endpoint failing for four days already that keeps answering
    `answer`, and one notification sent to it: its next failure disables it.
    Returns (endpoint, prefix)."""
    prefix = fake.prefix(name)
    ep = make_endpoint(tenant, fake, prefix)
    with db.cursor() as cur:
        cur.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '4 days' WHERE id = %s",
                    (ep["id"],))
    fake.script(prefix, [], default=answer)
    ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    return ep, prefix


def test_endpoint_failing_for_days_is_disabled(tenant, provider_fake, db):
    ep, prefix = failing_for_days(tenant, provider_fake, db, "wh", {"status": 500, "body": "still broken"})

    def disabled():
        r = h.api("GET", f"/v1/webhook-endpoints/{ep['id']}", key=tenant.key)
        return r.json if r.json and not r.json["enabled"] else None

    doc = h.wait_for(disabled, 20, desc="the endpoint disabled")
    assert doc["disabled_reason"].startswith("failing since"), doc
    assert any(l.get("msg") == "webhook endpoint disabled" and l.get("endpoint_id") == ep["id"]
               for l in h.log_lines("herald-worker-webhook"))
    # a disabled endpoint gets nothing new; enabling it again clears the streak
    n0 = len(provider_fake.requests(prefix))
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    d = ph.wait_delivery(tenant.key, nid, "webhook", ("skipped", "failed"))
    r = h.api("PUT", f"/v1/webhook-endpoints/{ep['id']}", key=tenant.key, body={"enabled": True})
    assert r.status == 200 and r.json["enabled"] and r.json["failing_since"] is None, r
    provider_fake.script(prefix, [], default={"status": 200, "body": "ok"})
    nid = ph.send(tenant.key, h.unique_user_id(), ["webhook"])
    ph.wait_delivery(tenant.key, nid, "webhook", "sent", timeout=20)
    assert len(provider_fake.requests(prefix)) >= n0 + 1


def test_endpoint_crud(tenant, provider_fake):
    ep = make_endpoint(tenant, provider_fake, provider_fake.prefix("wh"))
    r = h.api("GET", "/v1/webhook-endpoints", key=tenant.key)
    assert r.status == 200 and [e["id"] for e in r.json["data"]] == [ep["id"]]
    r = h.api("PUT", f"/v1/webhook-endpoints/{ep['id']}", key=tenant.key, body={"description": "renamed"})
    assert r.status == 200 and r.json["description"] == "renamed"
    other = h.create_tenant()
    h.assert_json_error(h.api("GET", f"/v1/webhook-endpoints/{ep['id']}", key=other.key), 404, "not_found")
    h.assert_json_error(h.api("DELETE", f"/v1/webhook-endpoints/{ep['id']}", key=other.key), 404, "not_found")
    assert h.api("DELETE", f"/v1/webhook-endpoints/{ep['id']}", key=tenant.key).status == 204
    h.assert_json_error(h.api("GET", f"/v1/webhook-endpoints/{ep['id']}", key=tenant.key), 404, "not_found")
    h.assert_json_error(h.api("GET", "/v1/webhook-endpoints/nope", key=tenant.key), 404, "not_found")
    r = h.api("POST", "/v1/webhook-endpoints", key=tenant.key, body={"url": "ftp://example.com/x"})
    h.assert_json_error(r, 422, "validation_failed", "url")


def test_outcome_events_sent_and_failed(tenant, provider_fake):
    prefix = provider_fake.prefix("ev")
    ep = make_endpoint(tenant, provider_fake, prefix, event_types=["notification.sent", "notification.failed"])
    tg = provider_fake.prefix("tg")
    ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": "42:ev"}, {"base_url": provider_fake.url + tg})
    provider_fake.script(tg, [{"status": 400, "json": {"ok": False, "error_code": 400,
                                                       "description": "Bad Request: chat not found"}}])
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, telegram_chat_id="5")
    nid = ph.send(tenant.key, user, ["in_app", "telegram"])
    reqs = provider_fake.wait_requests(prefix, 2)
    events = {json.loads(r["body"])["type"]: (r, json.loads(r["body"])) for r in reqs}
    assert set(events) == {"notification.sent", "notification.failed"}, events
    r, sent = events["notification.sent"]
    assert verify(ep["secret"], r["headers"], r["body"])
    assert sent["data"]["notification_id"] == nid and sent["data"]["type"] == "order.shipped"
    assert sent["data"]["delivery"]["channel"] == "in_app" and sent["data"]["delivery"]["status"] == "sent"
    _, failed = events["notification.failed"]
    assert failed["data"]["delivery"]["channel"] == "telegram"
    assert failed["data"]["delivery"]["error"] == "telegram_400: Bad Request: chat not found"
    # the events are deliveries of their own, with their own attempt log
    log = h.wait_for(lambda: (lambda l: l if len(l) == 2 else None)(
        h.api("GET", f"/v1/webhook-endpoints/{ep['id']}/attempts", key=tenant.key).json["data"]),
        10, desc="both event attempts recorded")
    assert all(a["outcome"] == "sent" for a in log), log
    time.sleep(0.5)
    assert len(provider_fake.requests(prefix)) == 2  # no events about the events


def test_disabled_endpoint_is_told_to_the_tenants_members(provider_fake, db):
    """'and the tenant told': every member of the tenant gets an email naming
    the endpoint, why, and how to enable it again; it is a notification of the
    environment like any other."""
    m = h.signup()
    env = type("Env", (), {"key": m.dev_key})
    ep, _ = failing_for_days(env, provider_fake, db, "whd", {"status": 503, "body": "down for good"})
    msg = h.wait_for_mail(m.email, subject="Webhook endpoint disabled", timeout=30)
    text = h.text_body(msg)
    assert ep["id"] in text and ep["url"] in text and "enabled" in text, text
    assert "failing since" in text, text
    r = h.api("GET", "/v1/notifications?type=herald.endpoint_disabled", key=m.dev_key)
    assert r.status == 200 and len(r.json["data"]) == 1, r
    assert not h.api("GET", f"/v1/webhook-endpoints/{ep['id']}", key=m.dev_key).json["enabled"]
