"""Channels and providers against the loopback provider fake: the exact
request each HTTP provider makes, and the delivery state each scripted answer
leads to (sent with the provider's message id, failed permanent with the
provider's error, retrying honouring Retry-After, retried then sent)."""

import base64
import json
import time
import urllib.parse

import herald_helpers as h
import provider_helpers as ph
import pytest


def tg_setup(tenant, fake, prefix, token="123456:ABC-def_ghi"):
    ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": token},
                       {"base_url": fake.url + prefix, "bot_username": "herald_test_bot"})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, telegram_chat_id="4242")
    return user


# ---------------------------------------------------------------- Telegram


def test_telegram_request_and_html_escaping(tenant, provider_fake):
    prefix = provider_fake.prefix("tg")
    user = tg_setup(tenant, provider_fake, prefix)
    nid = ph.send(tenant.key, user, ["telegram"], title="<b>Sale</b> & more", body="a<b",
                  data={"order": 1234, "note": "x>y"})
    d = ph.wait_delivery(tenant.key, nid, "telegram", "sent")
    reqs = provider_fake.requests(prefix)
    assert len(reqs) == 1, reqs
    rq = reqs[0]
    assert rq["method"] == "POST"
    assert rq["path"] == prefix + "/bot123456:ABC-def_ghi/sendMessage"
    assert rq["headers"]["content-type"].startswith("application/json")
    body = json.loads(rq["body"])
    assert body["chat_id"] == "4242"
    assert body["parse_mode"] == "HTML"
    text = body["text"]
    assert text.startswith("<b>&lt;b&gt;Sale&lt;/b&gt; &amp; more</b>\n"), text
    assert "a&lt;b" in text
    assert "<b>order</b>: 1234" in text
    assert "<b>note</b>: x&gt;y" in text
    assert "<b>Sale</b>" not in text  # user text never becomes markup
    assert d["provider_message_id"].startswith("4242:"), d


@pytest.mark.parametrize(
    "answer,code,needle",
    [
        ({"status": 400, "json": {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}},
         400, "telegram_400: Bad Request: chat not found"),
        ({"status": 401, "json": {"ok": False, "error_code": 401, "description": "Unauthorized"}},
         401, "telegram_401: Unauthorized"),
        ({"status": 403, "json": {"ok": False, "error_code": 403,
                                  "description": "Forbidden: bot was blocked by the user"}},
         403, "telegram_403: Forbidden: bot was blocked by the user"),
    ],
)
def test_telegram_client_errors_fail_permanently(tenant, provider_fake, db, answer, code, needle):
    prefix = provider_fake.prefix("tg")
    user = tg_setup(tenant, provider_fake, prefix)
    provider_fake.script(prefix, [answer])
    nid = ph.send(tenant.key, user, ["telegram"])
    d = ph.wait_delivery(tenant.key, nid, "telegram", "failed")
    assert needle in d["error"], d
    att = ph.attempts(db, d["id"])
    assert len(att) == 1, att  # permanent: no retry
    assert att[0]["outcome"] == "permanent" and att[0]["response_code"] == code
    assert needle in att[0]["error"]
    assert "description" in (att[0]["response_excerpt"] or "")
    time.sleep(0.5)
    assert len(provider_fake.requests(prefix)) == 1


def test_telegram_429_honours_retry_after(tenant, provider_fake, db):
    prefix = provider_fake.prefix("tg")
    user = tg_setup(tenant, provider_fake, prefix)
    provider_fake.script(prefix, [{"status": 429, "headers": {"Retry-After": "3"},
                                   "json": {"ok": False, "error_code": 429,
                                            "description": "Too Many Requests: retry after 3",
                                            "parameters": {"retry_after": 3}}}])
    nid = ph.send(tenant.key, user, ["telegram"])
    d = ph.wait_delivery(tenant.key, nid, "telegram", "retrying")
    row = ph.delivery_row(db, d["id"])
    assert row["retry_in_s"] is not None and row["retry_in_s"] >= 2.9, row
    assert "telegram_429" in row["error"]
    reqs = provider_fake.wait_requests(prefix, 2, timeout=15)
    assert reqs[1]["time"] - reqs[0]["time"] >= 2.9, [r["time"] for r in reqs]
    d = ph.wait_delivery(tenant.key, nid, "telegram", "sent")
    att = ph.attempts(db, d["id"])
    assert [a["outcome"] for a in att] == ["transient", "sent"], att
    assert att[0]["response_code"] == 429


@pytest.mark.parametrize("first", [
    {"status": 500, "json": {"ok": False, "error_code": 500, "description": "Internal Server Error"}},
    {"status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"},
    {"timeout": True},
])
def test_telegram_transient_then_recovers(tenant, provider_fake, db, first):
    prefix = provider_fake.prefix("tg")
    user = tg_setup(tenant, provider_fake, prefix)
    provider_fake.script(prefix, [first])
    nid = ph.send(tenant.key, user, ["telegram"])
    d = ph.wait_delivery(tenant.key, nid, "telegram", "sent", timeout=30)
    att = ph.attempts(db, d["id"])
    assert len(att) == 2, att
    assert att[0]["outcome"] == "transient" and att[1]["outcome"] == "sent"
    if first.get("timeout"):
        assert att[0]["error"].startswith("timeout"), att
        assert att[0]["response_code"] is None
    else:
        assert att[0]["response_code"] == first["status"]


def test_telegram_malformed_json_is_sent_with_a_warning(tenant, provider_fake, db):
    prefix = provider_fake.prefix("tg")
    user = tg_setup(tenant, provider_fake, prefix)
    provider_fake.script(prefix, [{"status": 200, "body": "{not json", "content_type": "application/json"}])
    nid = ph.send(tenant.key, user, ["telegram"])
    d = ph.wait_delivery(tenant.key, nid, "telegram", "sent")
    # A 2xx means the provider took it: resending could deliver it twice.
    assert d["provider_message_id"] is None
    assert d["error"].startswith("bad_response"), d
    assert len(provider_fake.requests(prefix)) == 1


def test_user_without_address_is_skipped(tenant, provider_fake):
    prefix = provider_fake.prefix("tg")
    tg_setup(tenant, provider_fake, prefix)
    nid = ph.send(tenant.key, h.unique_user_id(), ["telegram", "discord", "slack", "whatsapp"])
    doc = h.wait_notification(tenant.key, nid, lambda doc: h.all_settled(doc, ["telegram"]))
    for ch in ("telegram", "discord", "slack", "whatsapp"):
        d = h.delivery(doc, ch)
        assert d["status"] == "skipped" and d["error"] == "no_address", d


# ---------------------------------------------------------------- Discord


def test_discord_webhook_embed(tenant, provider_fake):
    prefix = provider_fake.prefix("dc")
    user = h.unique_user_id()
    hook = provider_fake.url + prefix + "/api/webhooks/111/tok-en"
    ph.put_user(tenant.key, user, discord_webhook_url=hook)
    nid = ph.send(tenant.key, user, ["discord"], title="Deploy done", body="All green",
                  data={"service": "api", "version": 42, "color": 0x00FF00})
    d = ph.wait_delivery(tenant.key, nid, "discord", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert rq["path"] == prefix + "/api/webhooks/111/tok-en"
    assert urllib.parse.parse_qs(rq["query"]) == {"wait": ["true"]}
    embed = json.loads(rq["body"])["embeds"][0]
    assert embed["title"] == "Deploy done"
    assert embed["description"] == "All green"
    assert embed["color"] == 0x00FF00
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields == {"service": "api", "version": "42"}
    assert d["provider_message_id"].startswith("fake-")


def test_discord_bot_direct_message(tenant, provider_fake):
    prefix = provider_fake.prefix("dc")
    ph.put_integration(tenant.key, "discord", "discord", {"bot_token": "bot-secret-1"},
                       {"base_url": provider_fake.url + prefix})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_user_id="123456789012345678")
    provider_fake.script(prefix + "/users", [{"status": 200, "json": {"id": "dm-777", "type": 1}}])
    nid = ph.send(tenant.key, user, ["discord"], title="Ping")
    d = ph.wait_delivery(tenant.key, nid, "discord", "sent")
    reqs = provider_fake.requests(prefix)
    assert [r["path"] for r in reqs] == [prefix + "/users/@me/channels", prefix + "/channels/dm-777/messages"]
    assert all(r["headers"]["authorization"] == "Bot bot-secret-1" for r in reqs)
    assert json.loads(reqs[0]["body"]) == {"recipient_id": "123456789012345678"}
    assert json.loads(reqs[1]["body"])["embeds"][0]["title"] == "Ping"
    assert d["provider_message_id"].startswith("fake-")


def test_discord_429_retry_after_in_body(tenant, provider_fake, db):
    prefix = provider_fake.prefix("dc")
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_webhook_url=provider_fake.url + prefix + "/api/webhooks/1/t")
    provider_fake.script(prefix, [{"status": 429, "json": {"message": "You are being rate limited.",
                                                           "retry_after": 2.5, "global": False}}])
    nid = ph.send(tenant.key, user, ["discord"])
    d = ph.wait_delivery(tenant.key, nid, "discord", "retrying")
    row = ph.delivery_row(db, d["id"])
    assert row["retry_in_s"] >= 2.4, row
    assert "You are being rate limited." in row["error"]
    ph.wait_delivery(tenant.key, nid, "discord", "sent", timeout=20)


# ---------------------------------------------------------------- Slack


def test_slack_incoming_webhook_blocks(tenant, provider_fake):
    prefix = provider_fake.prefix("sl")
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, slack_webhook_url=provider_fake.url + prefix + "/services/T/B/X")
    provider_fake.script(prefix, [{"status": 200, "body": "ok"}])
    nid = ph.send(tenant.key, user, ["slack"], title="Invoice paid", body="Amount <5> & due",
                  data={"invoice": "INV-1"})
    ph.wait_delivery(tenant.key, nid, "slack", "sent")
    (rq,) = provider_fake.requests(prefix)
    doc = json.loads(rq["body"])
    assert doc["text"] == "Invoice paid"
    types = [b["type"] for b in doc["blocks"]]
    assert types == ["header", "section", "section"], doc
    assert doc["blocks"][0]["text"] == {"type": "plain_text", "text": "Invoice paid", "emoji": True}
    assert doc["blocks"][1]["text"]["text"] == "Amount &lt;5&gt; &amp; due"
    assert doc["blocks"][2]["fields"] == [{"type": "mrkdwn", "text": "*invoice*\nINV-1"}]


def test_slack_chat_post_message_and_error(tenant, provider_fake):
    prefix = provider_fake.prefix("sl")
    ph.put_integration(tenant.key, "slack", "slack", {"bot_token": "xoxb-1-2"},
                       {"base_url": provider_fake.url + prefix})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, slack_channel="C12345678")
    nid = ph.send(tenant.key, user, ["slack"])
    d = ph.wait_delivery(tenant.key, nid, "slack", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert rq["path"] == prefix + "/chat.postMessage"
    assert rq["headers"]["authorization"] == "Bearer xoxb-1-2"
    assert json.loads(rq["body"])["channel"] == "C12345678"
    assert d["provider_message_id"].startswith("C0FAKE:1700000000.")
    # Slack reports errors with HTTP 200 and ok:false
    provider_fake.script(prefix, [{"status": 200, "json": {"ok": False, "error": "channel_not_found"}}])
    nid = ph.send(tenant.key, user, ["slack"])
    d = ph.wait_delivery(tenant.key, nid, "slack", "failed")
    assert d["error"].startswith("slack_channel_not_found"), d


# ---------------------------------------------------------------- Twilio


def test_twilio_sms_form_and_basic_auth(tenant, provider_fake, db):
    prefix = provider_fake.prefix("tw")
    integ = ph.put_integration(tenant.key, "sms", "twilio", {"account_sid": "AC0123", "auth_token": "s3cret"},
                               {"base_url": provider_fake.url + prefix, "from": "+15005550006"})
    nid = ph.send(tenant.key, h.unique_user_id(), ["sms"], title="Code 1234", body="Valid 5 min & more",
                  phone="+14155550100")
    d = ph.wait_delivery(tenant.key, nid, "sms", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert rq["path"] == prefix + "/2010-04-01/Accounts/AC0123/Messages.json"
    assert rq["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert rq["headers"]["authorization"] == "Basic " + base64.b64encode(b"AC0123:s3cret").decode()
    form = urllib.parse.parse_qs(rq["body"])
    assert sorted(form) == ["Body", "From", "StatusCallback", "To"], form
    assert form["To"] == ["+14155550100"] and form["From"] == ["+15005550006"]
    # delivery receipts come back to the integration's hook ([api] public_url + hook_path)
    assert form["StatusCallback"] == [h.env("HERALD_BASE_URL").rstrip("/") + integ["hook_path"]], form
    (text,) = form["Body"]  # the rendered SMS text: title and body, & kept as is
    assert "Code 1234" in text and "Valid 5 min & more" in text, text
    assert d["provider_message_id"].startswith("SMfake")
    provider_fake.script(prefix, [{"status": 400, "json": {
        "code": 21211, "message": "The 'To' number +14155550199 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}}])
    nid = ph.send(tenant.key, h.unique_user_id(), ["sms"], phone="+14155550199")
    d = ph.wait_delivery(tenant.key, nid, "sms", "failed")
    assert d["error"] == "twilio_21211: The 'To' number +14155550199 is not a valid phone number.", d


def test_phone_must_be_e164_at_the_api(tenant):
    r = h.post_notification(tenant.key, h.notification(channels=["sms"], user={"id": "u1", "phone": "0415555"}))
    h.assert_json_error(r, 422, "validation_failed", "user.phone")


# ---------------------------------------------------------------- WhatsApp


def test_whatsapp_text_and_template(tenant, provider_fake):
    prefix = provider_fake.prefix("wa")
    ph.put_integration(tenant.key, "whatsapp", "whatsapp", {"access_token": "EAAG-token"},
                       {"base_url": provider_fake.url + prefix, "phone_number_id": "1055"})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, whatsapp="+14155550101")
    nid = ph.send(tenant.key, user, ["whatsapp"], title="Hi", body="there")
    d = ph.wait_delivery(tenant.key, nid, "whatsapp", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert rq["path"] == prefix + "/1055/messages"
    assert rq["headers"]["authorization"] == "Bearer EAAG-token"
    doc = json.loads(rq["body"])
    assert doc["messaging_product"] == "whatsapp" and doc["to"] == "14155550101"
    assert doc["type"] == "text" and "Hi" in doc["text"]["body"] and "there" in doc["text"]["body"], doc
    assert d["provider_message_id"].startswith("wamid.fake")
    nid = ph.send(tenant.key, user, ["whatsapp"], data={"whatsapp_template": {
        "name": "order_update", "language": "en_US", "parameters": ["Ada", 1234]}})
    ph.wait_delivery(tenant.key, nid, "whatsapp", "sent")
    doc = json.loads(provider_fake.requests(prefix)[1]["body"])
    assert doc["type"] == "template"
    assert doc["template"]["name"] == "order_update"
    assert doc["template"]["language"] == {"code": "en_US"}
    assert doc["template"]["components"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "Ada"}, {"type": "text", "text": "1234"}]}]
    provider_fake.script(prefix, [{"status": 400, "json": {"error": {
        "message": "(#131026) Message Undeliverable.", "type": "OAuthException", "code": 131026,
        "fbtrace_id": "Ab"}}}])
    nid = ph.send(tenant.key, user, ["whatsapp"])
    d = ph.wait_delivery(tenant.key, nid, "whatsapp", "failed")
    assert d["error"] == "whatsapp_131026: (#131026) Message Undeliverable.", d


# ---------------------------------------------------------------- HTTP email API


def test_resend_email_api(tenant, provider_fake):
    prefix = provider_fake.prefix("rs")
    ph.put_integration(tenant.key, "email", "resend", {"api_key": "re_123"},
                       {"base_url": provider_fake.url + prefix, "from": "Herald <noreply@example.com>",
                        "reply_to": "help@example.com"})
    to = h.unique_email()
    nid = ph.send(tenant.key, h.unique_user_id(), ["email"], title="Welcome", body="Hello <friend>", email=to)
    d = ph.wait_delivery(tenant.key, nid, "email", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert rq["path"] == prefix + "/emails"
    assert rq["headers"]["authorization"] == "Bearer re_123"
    assert rq["headers"]["idempotency-key"] == d["id"]
    doc = json.loads(rq["body"])
    assert doc["from"] == "Herald <noreply@example.com>" and doc["to"] == [to]
    assert doc["subject"] == "Welcome" and doc["reply_to"] == "help@example.com"
    assert "Hello &lt;friend&gt;" in doc["html"] and "Hello <friend>" in doc["text"]
    assert d["provider_message_id"].startswith("fake-")
    provider_fake.script(prefix, [{"status": 422, "json": {"statusCode": 422, "name": "validation_error",
                                                           "message": "Invalid `to` field."}}])
    nid = ph.send(tenant.key, h.unique_user_id(), ["email"], email=h.unique_email())
    d = ph.wait_delivery(tenant.key, nid, "email", "failed")
    assert d["error"] == "resend_validation_error: Invalid `to` field.", d


# ---------------------------------------------------------------- API


def test_integration_api_hides_credentials(tenant, provider_fake):
    r = h.api("PUT", "/v1/integrations/telegram", key=tenant.key,
              body={"provider": "telegram", "credentials": {"bot_token": "1:SECRET"},
                    "settings": {"bot_username": "b"}})
    assert r.status in (200, 201), r
    assert b"SECRET" not in r.raw
    r = h.api("GET", "/v1/integrations/telegram", key=tenant.key)
    assert r.status == 200 and b"SECRET" not in r.raw, r
    assert r.json["provider"] == "telegram" and r.json["credentials_set"] == ["bot_token"]
    assert r.json["telegram_hook_path"].startswith("/v1/hooks/telegram/")
    r = h.api("PUT", "/v1/integrations/sms", key=tenant.key, body={"provider": "twilio", "credentials": {}})
    h.assert_json_error(r, 422, "validation_failed", "credentials.account_sid")
    r = h.api("PUT", "/v1/integrations/sms", key=tenant.key, body={"provider": "nope", "credentials": {}})
    h.assert_json_error(r, 422, "validation_failed", "provider")
    r = h.api("GET", "/v1/integrations/pigeon", key=tenant.key)
    h.assert_json_error(r, 404, "not_found")
    assert h.api("DELETE", "/v1/integrations/telegram", key=tenant.key).status == 204
    h.assert_json_error(h.api("GET", "/v1/integrations/telegram", key=tenant.key), 404, "not_found")
    # another environment never sees it
    other = h.create_tenant()
    h.assert_json_error(h.api("GET", "/v1/integrations/telegram", key=other.key), 404, "not_found")


def test_integration_test_message(tenant, provider_fake):
    prefix = provider_fake.prefix("tg")
    tg_setup(tenant, provider_fake, prefix)
    r = h.api("POST", "/v1/integrations/telegram/test", key=tenant.key, body={"to": "9001"})
    assert r.status == 202, r
    ph.wait_delivery(tenant.key, r.json["notification_id"], "telegram", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert json.loads(rq["body"])["chat_id"] == "9001"


def test_user_addresses_api(tenant):
    user = h.unique_user_id()
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"email": "not-an-email"})
    h.assert_json_error(r, 422, "validation_failed", "email")
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"phone": "555"})
    h.assert_json_error(r, 422, "validation_failed", "phone")
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"discord_user_id": "abc"})
    h.assert_json_error(r, 422, "validation_failed", "discord_user_id")
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"slack_webhook_url": "ftp://x/y"})
    h.assert_json_error(r, 422, "validation_failed", "slack_webhook_url")
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"fax": "1"})
    h.assert_json_error(r, 422, "validation_failed", "fax")
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key,
              body={"email": "ada@example.com", "phone": "+14155550100", "telegram_chat_id": "-100123"})
    assert r.status == 200 and r.json["telegram_chat_id"] == "-100123", r
    r = h.api("GET", f"/v1/users/{user}", key=tenant.key)
    assert r.status == 200 and r.json["email"] == "ada@example.com" and r.json["whatsapp"] is None, r
    other = h.create_tenant()
    h.assert_json_error(h.api("GET", f"/v1/users/{user}", key=other.key), 404, "not_found")
    # a stored address is used when the request gives none
    nid = ph.send(tenant.key, user, ["email"])
    d = ph.wait_delivery(tenant.key, nid, "email", ("sent", "failed"))
    assert d["address"] == "ada@example.com", d
    assert h.api("DELETE", f"/v1/users/{user}", key=tenant.key).status == 204
    h.assert_json_error(h.api("GET", f"/v1/users/{user}", key=tenant.key), 404, "not_found")


def test_telegram_link_by_start_code(tenant, provider_fake):
    prefix = provider_fake.prefix("tg")
    ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": "55:tok"},
                       {"base_url": provider_fake.url + prefix, "bot_username": "herald_test_bot"})
    hook = h.api("GET", "/v1/integrations/telegram", key=tenant.key).json["telegram_hook_path"]
    # the path's last part is the hook's secret: no log may show it (test_security)
    h.remember_secrets(hook.rsplit("/", 1)[1])
    user = h.unique_user_id()
    r = h.api("POST", f"/v1/users/{user}/telegram-link", key=tenant.key, body={})
    assert r.status == 200, r
    assert r.json["url"] == "https://t.me/herald_test_bot?start=" + r.json["code"]
    update = {"update_id": 1, "message": {"message_id": 5, "chat": {"id": 987654, "type": "private"},
                                          "text": "/start " + r.json["code"]}}
    r2 = h.api("POST", hook, body=update)
    assert r2.status == 200 and r2.json["linked"] is True, r2
    assert h.api("GET", f"/v1/users/{user}", key=tenant.key).json["telegram_chat_id"] == "987654"
    # the code is used up; an unknown hook secret is 404
    assert h.api("POST", hook, body=update).json["linked"] is False
    h.assert_json_error(h.api("POST", "/v1/hooks/telegram/" + "0" * 48, body=update), 404, "not_found")
    nid = ph.send(tenant.key, user, ["telegram"])
    ph.wait_delivery(tenant.key, nid, "telegram", "sent")
    assert json.loads(provider_fake.requests(prefix)[0]["body"])["chat_id"] == "987654"


def test_discord_limits_cut_whole_characters(tenant, provider_fake):
    prefix = provider_fake.prefix("dc")
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_webhook_url=provider_fake.url + prefix + "/api/webhooks/2/t")
    nid = ph.send(tenant.key, user, ["discord"], title="é" * 300, body="", data={"empty": ""})
    ph.wait_delivery(tenant.key, nid, "discord", "sent")
    (rq,) = provider_fake.requests(prefix)
    embed = json.loads(rq["body"])["embeds"][0]
    assert embed["title"] == "é" * 128  # 256 bytes, no character split
    assert "description" not in embed
    assert embed["fields"] == [{"name": "empty", "value": "-", "inline": True}]


def test_binary_error_body_is_kept_readable(tenant, provider_fake, db):
    prefix = provider_fake.prefix("tg")
    user = tg_setup(tenant, provider_fake, prefix)
    raw = b"\xff\xfe broken \x00 bytes \xc3"
    provider_fake.script(prefix, [{"status": 400, "body_b64": base64.b64encode(raw).decode()}])
    nid = ph.send(tenant.key, user, ["telegram"])
    d = ph.wait_delivery(tenant.key, nid, "telegram", "failed")
    (att,) = ph.attempts(db, d["id"])
    assert att["response_code"] == 400 and att["outcome"] == "permanent"
    assert att["response_excerpt"] == "?? broken   bytes ?", att


def test_long_sms_left_to_the_provider_with_its_length_reported(tenant, provider_fake):
    prefix = provider_fake.prefix("tw")
    ph.put_integration(tenant.key, "sms", "twilio", {"account_sid": "AC9", "auth_token": "t"},
                       {"base_url": provider_fake.url + prefix, "from": "+15005550006"})
    long_body = "x" * 400
    nid = ph.send(tenant.key, h.unique_user_id(), ["sms"], title="Long", body=long_body, phone="+14155550100")
    d = ph.wait_delivery(tenant.key, nid, "sms", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert long_body in urllib.parse.parse_qs(rq["body"])["Body"][0]  # sent whole, not cut
    line = h.wait_for(lambda: [l for l in h.log_lines("herald-worker-sms")
                               if l.get("delivery_id") == d["id"] and l.get("msg") == "delivery attempt"],
                      10, desc="the attempt's log line")[0]
    assert line["length"] >= 404 and line["encoding"] == "gsm7", line
    assert line["segments"] == -(-line["length"] // 153), line


def test_chat_carries_event_fields_category_colour_and_template_text(tenant, provider_fake):
    """What the template and the event say reaches chat providers: the event's
    fields and its category's colour in a Discord embed; a Telegram template's
    own text, escaped, as the whole message (what the preview shows)."""
    prefix = provider_fake.prefix("chat")
    cat = "cat-" + h.unique_user_id()[-8:]
    r = h.api("POST", "/v1/categories", body={"key": cat, "name": "Billing", "color": "#22aa55"},
              key=tenant.key)
    assert r.status == 201, r
    etype = "paid." + h.unique_user_id()[-8:]
    r = h.api("PUT", f"/v1/event-types/{etype}", body={"channels": ["discord"], "category": cat},
              key=tenant.key)
    assert r.status == 200, r
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_webhook_url=provider_fake.url + prefix + "/api/webhooks/7/t")
    r = h.api("POST", "/v1/events", key=tenant.key, body={
        "type": etype, "user": {"id": user}, "title": "Payment", "description": "Ada paid",
        "fields": {"amount": "42.00 EUR"}})
    assert r.status == 202, r
    ph.wait_delivery(tenant.key, r.json["id"], "discord", "sent")
    (rq,) = provider_fake.requests(prefix)
    embed = json.loads(rq["body"])["embeds"][0]
    assert embed["color"] == 0x22AA55, embed
    assert {"name": "amount", "value": "42.00 EUR", "inline": True} in embed["fields"], embed

    tprefix = provider_fake.prefix("tgtext")
    ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": "9:own"},
                       {"base_url": provider_fake.url + tprefix})
    key = "own.text." + h.unique_user_id()[-8:]
    r = h.api("PUT", f"/v1/templates/{key}", key=tenant.key,
              body={"channels": {"telegram": {"text": "Hi {{title}} & <co>"}}})
    assert r.status == 201, r
    tuser = h.unique_user_id()
    ph.put_user(tenant.key, tuser, telegram_chat_id="4242")
    nid = h.post_notification(tenant.key, {"user": {"id": tuser}, "type": key, "title": "T",
                                           "channels": ["telegram"]}).json["id"]
    ph.wait_delivery(tenant.key, nid, "telegram", "sent")
    (rq,) = provider_fake.requests(tprefix)
    assert json.loads(rq["body"])["text"] == "Hi T &amp; &lt;co&gt;", rq["body"]
    p = h.api("POST", f"/v1/templates/{key}/preview", key=tenant.key,
              body={"channel": "telegram", "title": "T"})
    assert p.json["text"] == "Hi T & <co>", p


def test_discord_team_destination_channel_id_posts_to_the_channel(tenant, provider_fake):
    """A team destination given as a channel id goes straight to that channel
    with the bot (no DM channel is opened for it)."""
    prefix = provider_fake.prefix("dteam")
    ph.put_integration(tenant.key, "discord", "discord", {"bot_token": "bot-team-token"},
                       {"base_url": provider_fake.url + prefix})
    r = h.api("PUT", "/v1/team-destinations", key=tenant.key,
              body={"destinations": {"discord": "123456789012345678"}})
    assert r.status == 200, r
    etype = "team." + h.unique_user_id()[-8:]
    r = h.api("PUT", f"/v1/event-types/{etype}", body={"channels": ["discord"]}, key=tenant.key)
    assert r.status == 200, r
    r = h.api("POST", "/v1/events", key=tenant.key, body={"type": etype, "title": "Deploy done"})
    assert r.status == 202, r
    ph.wait_delivery(tenant.key, r.json["id"], "discord", "sent")
    (rq,) = provider_fake.requests(prefix)
    assert rq["path"] == prefix + "/channels/123456789012345678/messages", rq["path"]
    assert rq["headers"]["authorization"] == "Bot bot-team-token"
    assert json.loads(rq["body"])["embeds"][0]["title"] == "Deploy done"
