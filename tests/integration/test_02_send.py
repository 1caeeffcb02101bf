"""POST /v1/notifications end to end: API -> Redis -> router -> PostgreSQL ->
workers -> SMTP server / inbox, read back with GET /v1/notifications/{id}."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import herald_helpers as h
from herald_helpers import (
    DELIVERY_STATES,
    NOTIFICATION_STATES,
    TS_RE,
    assert_uuid7,
    delivery,
    find_mails,
    notification,
    post_notification,
    text_body,
    unique_email,
    wait_for,
    wait_notification,
)


def accept(key, payload):
    r = post_notification(key, payload)
    assert r.status == 202, r
    assert r.content_type == h.JSON_CT, r
    assert set(r.json) == {"id", "status"}, r
    assert r.json["status"] == "accepted", r
    assert_uuid7(r.json["id"])
    return r.json["id"]


def both_sent(doc):
    e, i = delivery(doc, "email"), delivery(doc, "in_app")
    return e and i and e["status"] == "sent" and i["status"] == "sent" and doc["status"] == "completed"


def inbox_rows(db, env_id, user_id, nid):
    with db.cursor() as cur:
        cur.execute(
            "SELECT id, title, body, data, read_at, archived_at FROM inbox_items "
            "WHERE environment_id = %s AND user_id = %s AND notification_id = %s",
            (env_id, user_id, nid),
        )
        return cur.fetchall()


def check_sent_email(d, address):
    assert d["status"] == "sent", d
    assert d["address"] == address, d
    assert d["attempts"] == 1, d
    assert isinstance(d["provider_message_id"], str) and d["provider_message_id"].strip(), d
    assert d["sent_at"] and TS_RE.match(d["sent_at"]), d
    assert d["error"] is None, d
    assert d["next_attempt_at"] is None, d
    for k in ("created_at", "updated_at"):
        assert TS_RE.match(d[k]), (k, d)


def check_one_mail(to, subject, body):
    msg = h.wait_for_mail(to, subject)
    time.sleep(0.3)  # a duplicate send would land right behind the first one
    msgs = find_mails(to)
    assert len(msgs) == 1, f"expected exactly one email to {to}, got {len(msgs)}: {[m['Subject'] for m in msgs]}"
    msg = msgs[0]
    assert str(msg["Subject"]) == subject, msg["Subject"]
    assert to in [a.addr_spec for a in msg["To"].addresses], msg["To"]
    assert msg["From"], "no From header"
    assert msg["Message-ID"], "no Message-ID header"
    assert msg["Date"], "no Date header"
    assert body in text_body(msg), text_body(msg)
    return msg


def test_send_email_and_in_app_end_to_end(tenant, db):
    to = unique_email()
    payload = notification(email=to, channels=["email", "in_app"])
    nid = accept(tenant.key, payload)

    doc = wait_notification(tenant.key, nid, both_sent, desc="email and in_app sent")

    assert doc["id"] == nid
    assert doc["status"] == "completed"
    assert doc["type"] == payload["type"]
    assert doc["title"] == payload["title"]
    assert doc["body"] == payload["body"]
    assert doc["data"] == payload["data"]
    assert doc["user"]["id"] == payload["user"]["id"]
    assert TS_RE.match(doc["accepted_at"]), doc
    assert TS_RE.match(doc["created_at"]), doc
    assert sorted(d["channel"] for d in doc["deliveries"]) == ["email", "in_app"], doc

    email_d = delivery(doc, "email")
    check_sent_email(email_d, to)
    in_app = delivery(doc, "in_app")
    assert in_app["status"] == "sent", in_app
    assert in_app["error"] is None, in_app
    assert in_app["sent_at"] and TS_RE.match(in_app["sent_at"]), in_app
    assert len({d["id"] for d in doc["deliveries"]}) == 2

    msg = check_one_mail(to, payload["title"], payload["body"])
    # for SMTP the provider's message id is the Message-ID the server received
    assert str(msg["Message-ID"]).strip() == email_d["provider_message_id"].strip(), (msg["Message-ID"], email_d)

    rows = inbox_rows(db, tenant.env, payload["user"]["id"], nid)
    assert len(rows) == 1, rows
    item_id, title, body, data, read_at, archived_at = rows[0]
    assert str(item_id) == in_app["id"], (item_id, in_app)
    assert title == payload["title"]
    assert body == payload["body"]
    assert data == payload["data"]
    assert read_at is None and archived_at is None

    # the stored rows agree with what the API shows
    with db.cursor() as cur:
        cur.execute("SELECT environment_id, user_id, title FROM notifications WHERE id = %s", (nid,))
        env_id, user_id, title = cur.fetchone()
    assert str(env_id) == tenant.env and user_id == payload["user"]["id"] and title == payload["title"]


def test_delivered_entries_leave_their_streams(tenant, rds):
    """Workers ack and delete what they delivered: nothing of ours stays on a
    channel stream. The acks are written without waiting for their answers,
    so this is where a lost one shows."""
    ids = [accept(tenant.key, notification(email=unique_email(), channels=["email", "in_app"]))
           for _ in range(5)]
    deliveries = set()
    for nid in ids:
        doc = wait_notification(tenant.key, nid, both_sent, desc="email and in_app sent")
        deliveries |= {d["id"] for d in doc["deliveries"]}
    assert len(deliveries) == 10

    def ours_left():
        return [(channel, entry_id) for channel in ("email", "in_app")
                for entry_id, fields in rds.xrange(f"herald:deliveries:{channel}")
                if fields.get("d") in deliveries]
    # XACK and XDEL go together: an entry deleted from the stream was acked.
    h.wait_for(lambda: not ours_left(), timeout=10, desc="delivered entries deleted from their streams")


def test_non_ascii_text_survives(tenant, db):
    to = unique_email()
    title = f"café ✓ {uuid.uuid4().hex[:6]} — ünïcødé 日本"
    body = "Grüße 👋 — naïve façade ✓\nsecond line"
    payload = notification(email=to, title=title, channels=["email", "in_app"], body=body)
    payload["data"] = {"emoji": "🎉", "quote": 'he said "hi"'}
    nid = accept(tenant.key, payload)

    doc = wait_notification(tenant.key, nid, both_sent, desc="email and in_app sent")
    assert doc["title"] == title
    assert doc["body"] == body
    assert doc["data"] == payload["data"]

    msg = check_one_mail(to, title, "Grüße 👋 — naïve façade ✓")
    assert "second line" in text_body(msg)

    rows = inbox_rows(db, tenant.env, payload["user"]["id"], nid)
    assert len(rows) == 1 and rows[0][1] == title and rows[0][2] == body, rows


def test_read_right_after_accept_is_never_404(tenant):
    to = unique_email()
    nid = accept(tenant.key, notification(email=to, channels=["email", "in_app"]))

    seen = []

    def poll():
        r = h.get_notification(tenant.key, nid)
        assert r.status == 200, f"GET right after the 202 answered {r!r}"
        doc = r.json
        assert doc["id"] == nid, doc
        assert doc["status"] in NOTIFICATION_STATES, doc
        assert isinstance(doc["deliveries"], list), doc
        if doc["status"] == "accepted":
            assert doc["deliveries"] == [], doc
        for d in doc["deliveries"]:
            assert d["status"] in DELIVERY_STATES, d
        seen.append(doc["status"])
        return doc["status"] == "completed"

    # no pause before the first read
    wait_for(poll, timeout=15, interval=0.01, desc="completed")
    assert seen[-1] == "completed", seen


def test_channel_without_address_is_skipped(tenant):
    payload = notification(email=None, channels=["email"])
    nid = accept(tenant.key, payload)
    doc = wait_notification(tenant.key, nid, lambda d: h.all_settled(d, ["email"]), desc="email settled")
    assert [d["channel"] for d in doc["deliveries"]] == ["email"], doc
    d = delivery(doc, "email")
    assert d["status"] == "skipped", d
    assert d["error"] == "no_address", d
    assert d["address"] is None, d
    assert d["attempts"] == 0, d
    assert d["sent_at"] is None, d
    assert doc["status"] == "completed", doc


def test_default_channels_in_app_and_email(tenant):
    to = unique_email()
    payload = notification(email=to)
    assert "channels" not in payload
    nid = accept(tenant.key, payload)
    doc = wait_notification(tenant.key, nid, both_sent, desc="email and in_app sent")
    assert sorted(d["channel"] for d in doc["deliveries"]) == ["email", "in_app"], doc
    check_sent_email(delivery(doc, "email"), to)
    check_one_mail(to, payload["title"], payload["body"])


def test_default_channels_without_email_is_in_app_only(tenant, db):
    payload = notification(email=None)
    nid = accept(tenant.key, payload)
    doc = wait_notification(tenant.key, nid, lambda d: h.all_settled(d, ["in_app"]), desc="in_app settled")
    assert [d["channel"] for d in doc["deliveries"]] == ["in_app"], doc
    assert delivery(doc, "in_app")["status"] == "sent", doc
    assert doc["status"] == "completed", doc
    assert len(inbox_rows(db, tenant.env, payload["user"]["id"], nid)) == 1


def test_each_send_gets_its_own_time_ordered_id(tenant):
    ids = [accept(tenant.key, notification(channels=["in_app"])) for _ in range(5)]
    assert len(set(ids)) == 5
    times = [uuid.UUID(i).int >> 80 for i in ids]
    assert times == sorted(times), ids


def test_concurrent_sends_are_all_accepted_and_stored(tenant, db):
    """A small burst in parallel across the prefork pool: every request is
    accepted once, with its own id, and every notification is stored."""
    payloads = [notification(channels=["in_app"]) for _ in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda p: post_notification(tenant.key, p), payloads))
    bad = [r for r in answers if r.status != 202]
    assert not bad, bad
    ids = [r.json["id"] for r in answers]
    assert len(set(ids)) == len(ids)

    def stored():
        with db.cursor() as cur:
            cur.execute("SELECT id::text FROM notifications WHERE environment_id = %s", (tenant.env,))
            got = {row[0] for row in cur.fetchall()}
        return got == set(ids)

    wait_for(stored, 10, desc="all 16 notifications stored")
    for nid in ids:
        doc = wait_notification(tenant.key, nid, lambda d: d["status"] == "completed", timeout=10)
        assert [d["channel"] for d in doc["deliveries"]] == ["in_app"], doc


def test_upper_bounds_are_accepted(tenant):
    """Every field at its largest allowed size (lengths count characters,
    not bytes) is accepted and read back unchanged."""
    local = "a" * 64
    domain = ("d" * 60 + ".") * 3
    domain += "x" * (254 - len(local) - 1 - len(domain) - 4) + ".com"
    address = f"{local}@{domain}"
    assert len(address) == 254
    payload = {
        "user": {"id": "é" * 255, "email": address, "phone": "+" + "1" * 15},
        "type": "a" + "b.c_d-e:f" * 14 + "x" * 1,
        "title": "✓" * 500,
        "body": "ß" * 20000,
        "data": {"nested": {"list": [1, 2.5, None, True, "x"]}},
        "channels": ["in_app"],
    }
    assert len(payload["type"]) <= 128
    nid = accept(tenant.key, payload)
    doc = wait_notification(tenant.key, nid, lambda d: d["status"] == "completed")
    assert doc["title"] == payload["title"]
    assert doc["body"] == payload["body"]
    assert doc["type"] == payload["type"]
    assert doc["data"] == payload["data"]
    assert doc["user"]["id"] == payload["user"]["id"]


def test_lower_bounds_are_accepted(tenant):
    payload = {"user": {"id": "u"}, "type": "t", "title": "x", "channels": ["in_app"]}
    nid = accept(tenant.key, payload)
    doc = wait_notification(tenant.key, nid, lambda d: d["status"] == "completed")
    assert doc["body"] == "" and doc["data"] == {}, doc


def test_json_content_type_with_parameters_and_bearer_case(tenant):
    for ct in ("application/json; charset=utf-8", "Application/JSON"):
        r = post_notification(tenant.key, notification(channels=["in_app"]), headers={"Content-Type": ct})
        assert r.status == 202, (ct, r)
    r = post_notification(None, notification(channels=["in_app"]), headers={"Authorization": f"bearer {tenant.key}"})
    assert r.status == 202, r


def test_id_is_case_insensitive(tenant):
    """A UUID is case-insensitive (RFC 9562): the upper-case spelling of the id
    finds the notification, both while it is only accepted and once stored."""
    for _ in range(5):  # several times: the router may store it before the first read
        nid = accept(tenant.key, notification(channels=["in_app"]))
        r = h.get_notification(tenant.key, nid.upper())
        assert r.status == 200, f"upper-case id right after the 202: {r!r}"
        assert r.json["id"] == nid, r
    wait_notification(tenant.key, nid, lambda d: d["status"] == "completed")
    r = h.get_notification(tenant.key, nid.upper())
    assert r.status == 200, f"upper-case id once stored: {r!r}"
    assert r.json["id"] == nid, r
