"""Events: POST /v1/events decides deliveries from the event type (created
on first use with the environment's channels, editable), goes to the team
destinations without a user, renders fields; categories with emoji and
colour and their plan limit."""

import time

import herald_helpers as h
from content_helpers import key_name, send_event, settled, sink_line


def test_event_without_user_reaches_the_team_destinations(tenant, find_mail):
    ops = h.unique_email("ops")
    r = h.api("PUT", "/v1/team-destinations", body={"destinations": {"email": ops, "discord": "112233445566778899"}}, key=tenant.key)
    assert r.status == 200 and r.json["destinations"] == {"discord": "112233445566778899", "email": ops}, r
    assert h.api("GET", "/v1/team-destinations", key=tenant.key).json["destinations"]["email"] == ops
    # the rules of stored addresses apply: a channel's id or URL form, SSRF on URLs
    for bad, field in (({"discord": "ops-feed"}, "destinations.discord"),
                       ({"slack": "http://169.254.169.254/hook"}, "destinations.slack"),
                       ({"telegram": "chat 1"}, "destinations.telegram")):
        r = h.api("PUT", "/v1/team-destinations", body={"destinations": bad}, key=tenant.key)
        h.assert_json_error(r, 422, "validation_failed", field)
    assert h.api("GET", "/v1/team-destinations", key=tenant.key).json["destinations"]["email"] == ops

    cat = key_name("billing").replace(".", "-")
    r = h.api("POST", "/v1/categories", body={"key": cat, "name": "Billing", "emoji": "\U0001f4b3", "color": "#22aa55"}, key=tenant.key)
    assert r.status == 201, r

    etype = key_name("payment")
    nid = send_event(tenant.key, type=etype, category=cat, title="Payment received",
                     description="Ada paid the invoice", fields={"amount": "42.00 EUR", "plan": "pro", "seats": 3})
    doc = settled(tenant.key, nid, ["email", "discord"])
    assert {d["channel"] for d in doc["deliveries"]} == {"email", "discord"}, doc  # never in_app
    email = h.delivery(doc, "email")
    assert email["status"] == "sent" and email["address"] == ops, doc
    msg = h.wait_for_mail(ops)
    assert str(msg["Subject"]) == "Payment received"
    text = h.text_body(msg)
    assert "Ada paid the invoice" in text and "amount: 42.00 EUR" in text and "seats: 3" in text, text
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "42.00 EUR" in html and "<th" in html, html

    discord = h.delivery(doc, "discord")
    assert discord["status"] == "sent" and discord["address"] == "112233445566778899", doc
    line = sink_line("discord", discord["id"])
    assert line["title"] == "\U0001f4b3 Payment received", line  # category emoji as the prefix

    # the type was created on first use, in the category, with the default channels
    r = h.api("GET", f"/v1/event-types/{etype}", key=tenant.key)
    assert r.status == 200, r
    assert r.json["category"] == cat and r.json["critical"] is False, r
    assert set(r.json["channels"]) == {"email", "in_app", "discord"}, r
    r = h.api("GET", f"/v1/categories/{cat}", key=tenant.key)
    assert r.json["event_types"] == [etype] and r.json["emoji"] == "\U0001f4b3", r

    # preview shows the category's colour and emoji for chat
    p = h.api("POST", f"/v1/templates/{etype}/preview", body={"channel": "discord", "title": "T"}, key=tenant.key)
    assert p.json["color"] == "#22aa55" and p.json["emoji"] == "\U0001f4b3" and p.json["title"].startswith("\U0001f4b3 "), p


def test_event_type_configuration_decides_channels(tenant):
    etype = key_name("signup")
    r = h.api("PUT", f"/v1/event-types/{etype}", body={"name": "Sign-up", "channels": ["in_app"], "description": "A user signed up"}, key=tenant.key)
    assert r.status == 200 and r.json["channels"] == ["in_app"] and r.json["name"] == "Sign-up", r
    user = {"id": h.unique_user_id(), "email": h.unique_email("su")}
    nid = send_event(tenant.key, type=etype, user=user, description="welcome")
    doc = settled(tenant.key, nid, ["in_app"])
    assert [d["channel"] for d in doc["deliveries"]] == ["in_app"], doc  # no email: the type said so
    assert doc["user"]["id"] == user["id"], doc

    r = h.api("PUT", f"/v1/event-types/{etype}", body={"channels": ["email", "in_app"]}, key=tenant.key)
    assert r.json["channels"] == ["email", "in_app"] and r.json["name"] == "Sign-up", r
    nid = send_event(tenant.key, type=etype, user=user)
    doc = settled(tenant.key, nid, ["email", "in_app"])
    assert h.delivery(doc, "email")["status"] == "sent", doc

    r = h.api("GET", "/v1/event-types", key=tenant.key)
    assert any(t["key"] == etype for t in r.json["data"]), r
    for body, field in [({"channels": ["fax"]}, "channels[0]"), ({"critical": "yes"}, "critical"),
                        ({"category": "no-such-category"}, "category"), ({"colour": 1}, "colour")]:
        h.assert_json_error(h.api("PUT", f"/v1/event-types/{etype}", body=body, key=tenant.key), 422, "validation_failed", field)
    assert h.api("DELETE", f"/v1/event-types/{etype}", key=tenant.key).status == 200
    assert h.api("GET", f"/v1/event-types/{etype}", key=tenant.key).status == 404


def test_event_validation(tenant, rds):
    before = h.ingest_marker(rds)
    for body, status, field in [
        ({}, 422, "type"),
        ({"type": "Bad Type"}, 422, "type"),
        ({"type": "a", "fields": []}, 422, "fields"),
        ({"type": "a", "fields": {"x": {"nested": 1}}}, 422, "fields.x"),
        ({"type": "a", "fields": {f"f{i}": i for i in range(26)}}, 422, "fields"),
        ({"type": "a", "user": {"email": "a@b.example"}}, 422, "user.id"),
        ({"type": "a", "user": {"id": "u", "locale": "xx_YY"}}, 422, "user.locale"),
        ({"type": "a", "user": {"id": "u", "email": "nope"}}, 422, "user.email"),
        ({"type": "a", "channels": ["email"]}, 422, "channels"),
        ({"type": "a", "description": 5}, 422, "description"),
    ]:
        h.assert_json_error(h.api("POST", "/v1/events", body=body, key=tenant.key), status, "validation_failed", field)
    h.assert_json_error(h.api("POST", "/v1/events", raw="[1", key=tenant.key), 400, "invalid_json")
    assert h.api("POST", "/v1/events", body={"type": "a"}).status == 401
    assert h.ingest_marker(rds) == before  # nothing refused was enqueued

    # idempotency as for notifications
    idem = {"Idempotency-Key": key_name("idem")}
    a = h.api("POST", "/v1/events", body={"category": "ops"}, key=tenant.key, headers=idem)
    b = h.api("POST", "/v1/events", body={"category": "ops"}, key=tenant.key, headers=idem)
    assert a.status == 202 and b.status == 200 and a.json["id"] == b.json["id"], (a, b)
    c = h.api("POST", "/v1/events", body={"category": "ops", "title": "other"}, key=tenant.key, headers=idem)
    h.assert_json_error(c, 409, "idempotency_conflict")


def test_categories_crud_and_plan_limit(tenant, db):
    keys = [key_name("c").replace(".", "-") for _ in range(3)]
    for k in keys:
        r = h.api("POST", "/v1/categories", body={"key": k, "name": k.upper(), "color": "#123456"}, key=tenant.key)
        assert r.status == 201, r
    h.assert_json_error(h.api("POST", "/v1/categories", body={"key": keys[0]}, key=tenant.key), 409, "conflict")
    r = h.api("POST", "/v1/categories", body={"key": "one-too-many"}, key=tenant.key)
    h.assert_json_error(r, 403, "plan_limit")
    assert "3" in r.json["error"]["message"]
    r = h.api("GET", "/v1/categories", key=tenant.key)
    assert r.json["limit"] == 3 and len(r.json["data"]) == 3, r
    # the pro plan allows 10 (a tenant on it from the start: plans are cached with keys)
    pro = h.create_tenant("pro")
    with db.cursor() as cur:
        cur.execute("UPDATE tenants SET plan = 'pro' WHERE id = %s", (pro.id,))
    for i in range(10):
        assert h.api("POST", "/v1/categories", body={"key": f"c{i}"}, key=pro.key).status == 201
    h.assert_json_error(h.api("POST", "/v1/categories", body={"key": "c10"}, key=pro.key), 403, "plan_limit")

    r = h.api("PATCH", f"/v1/categories/{keys[0]}", body={"emoji": "\u2705", "color": "#ff0000"}, key=tenant.key)
    assert r.status == 200 and r.json["emoji"] == "\u2705" and r.json["name"] == keys[0].upper(), r
    h.assert_json_error(h.api("PATCH", f"/v1/categories/{keys[0]}", body={"color": "red"}, key=tenant.key), 422, "validation_failed", "color")
    h.assert_json_error(h.api("POST", "/v1/categories", body={"key": "Bad Key"}, key=tenant.key), 422, "validation_failed", "key")
    assert h.api("DELETE", f"/v1/categories/{keys[0]}", key=tenant.key).status == 200
    assert h.api("GET", f"/v1/categories/{keys[0]}", key=tenant.key).status == 404
    assert h.api("GET", f"/v1/categories/{keys[1]}", key=tenant.prod_key).status == 404


def test_category_limit_holds_under_concurrency(tenant_factory):
    from concurrent.futures import ThreadPoolExecutor

    t = tenant_factory()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(
            lambda i: h.api("POST", "/v1/categories", body={"key": f"k{i}"}, key=t.key).status, range(12)))
    assert sorted(statuses) == [201] * 3 + [403] * 9, statuses
    assert len(h.api("GET", "/v1/categories", key=t.key).json["data"]) == 3
