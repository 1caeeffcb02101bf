"""Delivery receipts: Twilio SMS status callbacks (X-Twilio-Signature) and
WhatsApp Cloud API status webhooks (X-Hub-Signature-256, and the GET
verification handshake) move a sent delivery to delivered or failed, only
forward, and a subscribed webhook endpoint gets notification.delivered /
notification.failed. Signatures are made here independently (Python's hmac)."""

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse

import herald_helpers as h
import provider_helpers as ph
from test_webhooks import make_endpoint, verify

AUTH_TOKEN = "tw-auth-token-123"
APP_SECRET = "wa-app-secret-456"
VERIFY_TOKEN = "wa-verify-789"


def hook_secret(integration, provider):
    """The secret of the integration's callback URL, as PUT /v1/integrations
    answers it (hook_path /v1/hooks/<provider>/<secret>)."""
    path = integration["hook_path"]
    assert path.startswith(f"/v1/hooks/{provider}/"), integration
    assert integration["telegram_hook_path"] is None, integration
    secret = path.rsplit("/", 1)[1]
    h.remember_secrets(secret)  # no log may show it (test_security)
    return secret


def row(db, delivery_id):
    with db.cursor() as cur:
        cur.execute("SELECT status, error, delivered_at, updated_at FROM deliveries WHERE id = %s",
                    (delivery_id,))
        return dict(zip(["status", "error", "delivered_at", "updated_at"], cur.fetchone()))


def webhook_rows(db, notification_id):
    with db.cursor() as cur:
        cur.execute("SELECT id, webhook_event->>'type' FROM deliveries"
                    " WHERE notification_id = %s AND channel = 'webhook' ORDER BY id", (notification_id,))
        return cur.fetchall()


# ---------------------------------------------------------------- Twilio


def twilio_sign(url, params, token=AUTH_TOKEN):
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_post(secret, params, token=AUTH_TOKEN, signature=None, raw=None, ctype=None):
    path = f"/v1/hooks/twilio/{secret}"
    url = h.env("HERALD_BASE_URL").rstrip("/") + path
    body = raw if raw is not None else urllib.parse.urlencode(params)
    sig = signature if signature is not None else twilio_sign(url, params, token)
    return h.api("POST", path, raw=body, headers={
        "Content-Type": ctype or "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})


def twilio_setup(tenant, provider_fake, db):
    prefix = provider_fake.prefix("twr")
    integ = ph.put_integration(tenant.key, "sms", "twilio", {"account_sid": "AC77", "auth_token": AUTH_TOKEN},
                               {"base_url": provider_fake.url + prefix, "from": "+15005550006"})
    return hook_secret(integ, "twilio")


def sent_sms(tenant):
    nid = ph.send(tenant.key, h.unique_user_id(), ["sms"], phone="+14155550123")
    return nid, ph.wait_delivery(tenant.key, nid, "sms", "sent")


def test_twilio_delivered_emits_event_once(tenant, provider_fake, db):
    secret = twilio_setup(tenant, provider_fake, db)
    evp = provider_fake.prefix("rcpt")
    ep = make_endpoint(tenant, provider_fake, evp, event_types=["notification.delivered"])
    nid, d = sent_sms(tenant)
    sid = d["provider_message_id"]
    # queued/sent callbacks change nothing
    r = twilio_post(secret, {"MessageSid": sid, "MessageStatus": "sent", "AccountSid": "AC77"})
    assert r.status == 200 and r.json["result"] == "ignored", r
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC77", "To": "+14155550123",
              "SmsStatus": "delivered", "ApiVersion": "2010-04-01"}
    r = twilio_post(secret, params)
    assert r.status == 200 and r.json == {"ok": True, "result": "changed", "status": "delivered"}, r
    assert h.delivery(h.get_notification(tenant.key, nid).json, "sms")["status"] == "delivered"
    assert row(db, d["id"])["delivered_at"] is not None
    (req,) = provider_fake.wait_requests(evp, 1)
    # the event is a webhook delivery of the same notification: settled once it is sent
    h.wait_notification(tenant.key, nid, lambda doc: doc["status"] == "completed")
    assert verify(ep["secret"], req["headers"], req["body"])
    ev = json.loads(req["body"])
    assert ev["type"] == "notification.delivered"
    assert ev["data"]["notification_id"] == nid
    dl = ev["data"]["delivery"]
    assert dl["id"] == d["id"] and dl["channel"] == "sms" and dl["status"] == "delivered", ev
    assert dl["provider_message_id"] == sid and dl.get("error") is None, ev
    # a repeat changes nothing: same row, no second event
    before = row(db, d["id"])
    r = twilio_post(secret, params)
    assert r.status == 200 and r.json["result"] == "repeat", r
    assert row(db, d["id"]) == before
    assert len(webhook_rows(db, nid)) == 1
    # never backwards: a late undelivered after delivered is ignored
    r = twilio_post(secret, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert r.status == 200 and r.json["result"] == "ignored", r
    assert row(db, d["id"]) == before
    time.sleep(0.5)
    assert len(provider_fake.requests(evp)) == 1


def test_twilio_is_told_where_to_send_receipts(tenant, provider_fake, db):
    """The SMS request names the hook as StatusCallback ([api] public_url and
    the integration's hook path); a receipt signed for that URL lands."""
    prefix = provider_fake.prefix("twcb")
    integ = ph.put_integration(tenant.key, "sms", "twilio", {"account_sid": "AC78", "auth_token": AUTH_TOKEN},
                               {"base_url": provider_fake.url + prefix, "from": "+15005550006"})
    secret = hook_secret(integ, "twilio")
    nid, d = sent_sms(tenant)
    (rq,) = provider_fake.requests(prefix)
    (cb,) = urllib.parse.parse_qs(rq["body"])["StatusCallback"]
    assert cb == h.env("HERALD_BASE_URL").rstrip("/") + "/v1/hooks/twilio/" + secret
    params = {"MessageSid": d["provider_message_id"], "MessageStatus": "delivered", "AccountSid": "AC78"}
    body = urllib.parse.urlencode(params)
    r = h.api("POST", urllib.parse.urlsplit(cb).path, raw=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio_sign(cb, params)})
    assert r.status == 200 and r.json["result"] == "changed", r
    assert h.delivery(h.get_notification(tenant.key, nid).json, "sms")["status"] == "delivered"


def test_twilio_undelivered_fails_with_code(tenant, provider_fake, db):
    secret = twilio_setup(tenant, provider_fake, db)
    evp = provider_fake.prefix("rcpf")
    make_endpoint(tenant, provider_fake, evp, event_types=["notification.failed"])
    nid, d = sent_sms(tenant)
    r = twilio_post(secret, {"MessageSid": d["provider_message_id"], "MessageStatus": "undelivered",
                             "ErrorCode": "30005"})
    assert r.status == 200 and r.json["status"] == "failed", r
    dd = h.delivery(h.get_notification(tenant.key, nid).json, "sms")
    assert dd["status"] == "failed" and dd["error"] == "twilio_30005: undelivered", dd
    (req,) = provider_fake.wait_requests(evp, 1)
    h.wait_notification(tenant.key, nid, lambda doc: doc["status"] == "partially_failed")
    ev = json.loads(req["body"])
    assert ev["type"] == "notification.failed"
    assert ev["data"]["delivery"]["error"] == "twilio_30005: undelivered", ev
    # a later delivered does not bring it back
    r = twilio_post(secret, {"MessageSid": d["provider_message_id"], "MessageStatus": "delivered"})
    assert r.status == 200 and r.json["result"] == "ignored", r
    assert row(db, d["id"])["status"] == "failed"


def test_twilio_bad_signature_changes_nothing(tenant, provider_fake, db):
    secret = twilio_setup(tenant, provider_fake, db)
    _, d = sent_sms(tenant)
    params = {"MessageSid": d["provider_message_id"], "MessageStatus": "delivered"}
    before = row(db, d["id"])
    for r in (twilio_post(secret, params, token="wrong-token"),
              twilio_post(secret, params, signature=""),
              twilio_post(secret, params, signature=twilio_sign("https://elsewhere.example/x", params))):
        h.assert_json_error(r, 401, "unauthorized", None)
    # a signed body whose field was changed afterwards
    good = twilio_sign(h.env("HERALD_BASE_URL").rstrip("/") + f"/v1/hooks/twilio/{secret}",
                       dict(params, MessageStatus="sent"))
    h.assert_json_error(twilio_post(secret, params, signature=good), 401, "unauthorized", None)
    assert row(db, d["id"]) == before


def test_twilio_unknown_secret_is_404(tenant, provider_fake, db):
    secret = twilio_setup(tenant, provider_fake, db)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    for s in (secrets.token_hex(24), "short", secret[:-1] + ("0" if secret[-1] != "0" else "1")):
        h.assert_json_error(twilio_post(s, params), 404, "not_found", None)
    # another channel's hook secret does not open this one
    ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": "42:x"})
    tg = ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": "42:x"})["telegram_hook_path"]
    h.assert_json_error(twilio_post(tg.rsplit("/", 1)[1], params), 404, "not_found", None)


def test_twilio_malformed_input_is_4xx(tenant, provider_fake, db):
    secret = twilio_setup(tenant, provider_fake, db)
    r = twilio_post(secret, {"MessageStatus": "delivered"})
    h.assert_json_error(r, 400, "validation_failed", "MessageSid")
    r = twilio_post(secret, {"MessageSid": "SM1"})
    h.assert_json_error(r, 400, "validation_failed", "MessageStatus")
    r = twilio_post(secret, {"MessageSid": "SM 1", "MessageStatus": "delivered"})
    h.assert_json_error(r, 400, "validation_failed", "MessageSid")
    r = twilio_post(secret, {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30 03"})
    h.assert_json_error(r, 400, "validation_failed", "ErrorCode")
    r = twilio_post(secret, {}, raw="MessageSid=%zz&MessageStatus=delivered")
    assert r.status == 400 and r.json["error"]["code"] == "invalid_body", r
    r = twilio_post(secret, {"MessageSid": "SM1"}, ctype="application/json")
    assert r.status == 415, r
    # an unknown message id is answered 200 (Twilio would retry) and changes nothing
    r = twilio_post(secret, {"MessageSid": "SMnotours", "MessageStatus": "delivered"})
    assert r.status == 200 and r.json["result"] == "unknown_message", r


def test_twilio_receipt_is_scoped_to_its_environment(tenant_factory, provider_fake, db):
    a, b = tenant_factory(), tenant_factory()
    sa, sb = twilio_setup(a, provider_fake, db), twilio_setup(b, provider_fake, db)
    _, d = sent_sms(a)
    # b's hook with a's message id: b has no such message
    r = twilio_post(sb, {"MessageSid": d["provider_message_id"], "MessageStatus": "delivered"})
    assert r.status == 200 and r.json["result"] == "unknown_message", r
    assert row(db, d["id"])["status"] == "sent"
    r = twilio_post(sa, {"MessageSid": d["provider_message_id"], "MessageStatus": "delivered"})
    assert r.status == 200 and r.json["result"] == "changed", r


# ---------------------------------------------------------------- WhatsApp


def wa_setup(tenant, provider_fake, db, creds=None):
    prefix = provider_fake.prefix("war")
    integ = ph.put_integration(tenant.key, "whatsapp", "whatsapp",
                               creds or {"access_token": "EAAG", "app_secret": APP_SECRET,
                                         "verify_token": VERIFY_TOKEN},
                               {"base_url": provider_fake.url + prefix, "phone_number_id": "1055"})
    return hook_secret(integ, "whatsapp")


def wa_payload(*statuses):
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "metadata": {"phone_number_id": "1055"}, "statuses": list(statuses)}}]}]}


def wa_post(secret, doc, key=APP_SECRET, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(doc).encode()
    sig = signature if signature is not None else \
        "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return h.api("POST", f"/v1/hooks/whatsapp/{secret}", raw=body,
                 headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})


def sent_wa(tenant):
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, whatsapp="+14155550102")
    nid = ph.send(tenant.key, user, ["whatsapp"])
    return nid, ph.wait_delivery(tenant.key, nid, "whatsapp", "sent")


def test_whatsapp_verification_handshake(tenant, provider_fake, db):
    secret = wa_setup(tenant, provider_fake, db)
    q = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                "hub.challenge": "1158201444"})
    r = h.api("GET", f"/v1/hooks/whatsapp/{secret}?{q}")
    assert r.status == 200 and r.raw == b"1158201444", r
    q = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    h.assert_json_error(h.api("GET", f"/v1/hooks/whatsapp/{secret}?{q}"), 403, "forbidden", "hub.verify_token")
    q = urllib.parse.urlencode({"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"})
    h.assert_json_error(h.api("GET", f"/v1/hooks/whatsapp/{secret}?{q}"), 400, "validation_failed", "hub.mode")
    q = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN})
    h.assert_json_error(h.api("GET", f"/v1/hooks/whatsapp/{secret}?{q}"), 400, "validation_failed",
                        "hub.challenge")
    h.assert_json_error(h.api("GET", f"/v1/hooks/whatsapp/{secrets.token_hex(24)}?{q}"), 404, "not_found", None)


def test_whatsapp_delivered_read_and_failed(tenant, provider_fake, db):
    secret = wa_setup(tenant, provider_fake, db)
    evp = provider_fake.prefix("warc")
    make_endpoint(tenant, provider_fake, evp, event_types=["notification.delivered", "notification.failed"])
    n1, d1 = sent_wa(tenant)
    n2, d2 = sent_wa(tenant)
    n3, d3 = sent_wa(tenant)
    ts = str(int(time.time()))
    doc = wa_payload(
        {"id": d1["provider_message_id"], "status": "sent", "timestamp": ts, "recipient_id": "14155550102"},
        {"id": d1["provider_message_id"], "status": "delivered", "timestamp": ts},
        {"id": d2["provider_message_id"], "status": "read", "timestamp": ts},
        {"id": d3["provider_message_id"], "status": "failed", "timestamp": ts,
         "errors": [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement."}]})
    r = wa_post(secret, doc)
    assert r.status == 200 and r.json == {"ok": True, "statuses": 4, "changed": 3}, r
    assert row(db, d1["id"])["status"] == "delivered"
    assert row(db, d2["id"])["status"] == "delivered"
    r3 = row(db, d3["id"])
    assert r3["status"] == "failed" and r3["error"].startswith("whatsapp_131049: This message"), r3
    reqs = provider_fake.wait_requests(evp, 3)
    got = sorted((json.loads(q["body"])["type"], json.loads(q["body"])["data"]["notification_id"]) for q in reqs)
    assert got == sorted([("notification.delivered", n1), ("notification.delivered", n2),
                          ("notification.failed", n3)]), got
    # the same webhook again: nothing changes, no new events
    before = [row(db, d["id"]) for d in (d1, d2, d3)]
    r = wa_post(secret, doc)
    assert r.status == 200 and r.json["changed"] == 0, r
    assert [row(db, d["id"]) for d in (d1, d2, d3)] == before
    time.sleep(0.5)
    assert len(provider_fake.requests(evp)) == 3


def test_whatsapp_bad_signature_and_malformed(tenant, provider_fake, db):
    secret = wa_setup(tenant, provider_fake, db)
    _, d = sent_wa(tenant)
    doc = wa_payload({"id": d["provider_message_id"], "status": "delivered"})
    before = row(db, d["id"])
    h.assert_json_error(wa_post(secret, doc, key="wrong"), 401, "unauthorized", None)
    h.assert_json_error(wa_post(secret, doc, signature="sha256=" + "0" * 64), 401, "unauthorized", None)
    h.assert_json_error(wa_post(secret, doc, signature=""), 401, "unauthorized", None)
    assert row(db, d["id"]) == before
    h.assert_json_error(wa_post(secrets.token_hex(24), doc), 404, "not_found", None)
    h.assert_json_error(wa_post(secret, {"entry": {}}), 400, "validation_failed", "entry")
    h.assert_json_error(wa_post(secret, {"entry": [{"changes": 5}]}), 400, "validation_failed",
                        "entry[0].changes")
    h.assert_json_error(wa_post(secret, wa_payload({"status": "delivered"})), 400, "validation_failed",
                        "entry[0].changes[0].value.statuses[0].id")
    h.assert_json_error(wa_post(secret, wa_payload({"id": "wamid.x", "status": 3})), 400,
                        "validation_failed", "entry[0].changes[0].value.statuses[0].status")
    r = wa_post(secret, None, raw=b"{not json")
    assert r.status == 400 and r.json["error"]["code"] == "invalid_json", r
    # a messages webhook (no statuses) is fine and changes nothing
    r = wa_post(secret, {"entry": [{"changes": [{"value": {"messages": [{"id": "wamid.in"}]}}]}]})
    assert r.status == 200 and r.json["statuses"] == 0, r
    assert row(db, d["id"]) == before


def test_whatsapp_without_app_secret_refuses(tenant, provider_fake, db):
    secret = wa_setup(tenant, provider_fake, db, creds={"access_token": "EAAG"})
    r = wa_post(secret, wa_payload({"id": "wamid.x", "status": "delivered"}))
    h.assert_json_error(r, 401, "unauthorized", None)
    assert "app_secret" in r.json["error"]["message"]
