"""Preferences: per user x (event type or category) x channel, all on by
default and created on first read; read and written with the API key or
with the user's own token; the router skips a delivery whose channel is
off (reason "preference"); critical event types ignore them."""

import herald_helpers as h
from content_helpers import key_name, send_event, settled


def prefs(tenant, uid, **kw):
    return h.api("GET", f"/v1/users/{uid}/preferences", key=tenant.key, **kw)


def entry(doc, scope, key):
    for p in doc["preferences"]:
        if p.get(scope) == key and (scope == "type" or "type" not in p):
            return p
    return None


def test_defaults_created_on_first_read(tenant, db):
    cat = key_name("news").replace(".", "-")
    assert h.api("POST", "/v1/categories", body={"key": cat, "name": "News"}, key=tenant.key).status == 201
    etype = key_name("digest")
    r = h.api("PUT", f"/v1/event-types/{etype}", body={"channels": ["email", "in_app"], "category": cat}, key=tenant.key)
    assert r.status == 200, r
    uid = h.unique_user_id()
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM preferences WHERE environment_id = %s AND user_id = %s", (tenant.env, uid))
        assert cur.fetchone()[0] == 0
    r = prefs(tenant, uid)
    assert r.status == 200, r
    assert r.json["user"] == uid, r
    t = entry(r.json, "type", etype)
    assert t["channels"] == {"email": True, "in_app": True} and t["category"] == cat and t["critical"] is False, r
    c = entry(r.json, "category", cat)
    assert c["channels"] == {"email": True, "in_app": True} and c["name"] == "News", r
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM preferences WHERE environment_id = %s AND user_id = %s", (tenant.env, uid))
        assert cur.fetchone()[0] == 4
    # the other environment knows nothing of them
    assert entry(h.api("GET", f"/v1/users/{uid}/preferences", key=tenant.prod_key).json, "type", etype) is None


def test_off_is_skipped_and_critical_is_sent(tenant):
    etype = key_name("promo")
    crit = key_name("security")
    assert h.api("PUT", f"/v1/event-types/{etype}", body={"channels": ["email", "in_app"]}, key=tenant.key).status == 200
    assert h.api("PUT", f"/v1/event-types/{crit}", body={"channels": ["email", "in_app"], "critical": True}, key=tenant.key).status == 200
    uid = h.unique_user_id()
    body = {"preferences": [{"type": etype, "channels": {"email": False}},
                            {"type": crit, "channels": {"email": False, "in_app": False}}]}
    r = h.api("PUT", f"/v1/users/{uid}/preferences", body=body, key=tenant.key)
    assert r.status == 200, r
    assert entry(r.json, "type", etype)["channels"] == {"email": False, "in_app": True}, r
    user = {"id": uid, "email": h.unique_email("pref")}

    nid = send_event(tenant.key, type=etype, user=user, title="Sale")
    doc = settled(tenant.key, nid, ["email", "in_app"])
    e = h.delivery(doc, "email")
    assert e["status"] == "skipped" and e["error"] == "preference", doc
    assert h.delivery(doc, "in_app")["status"] == "sent", doc

    # a plain notification of that type follows the same preferences
    r = h.post_notification(tenant.key, h.notification(email=user["email"], channels=["email"], type=etype, user=user))
    doc = settled(tenant.key, r.json["id"], ["email"])
    assert h.delivery(doc, "email")["error"] == "preference", doc

    # critical: preferences ignored
    nid = send_event(tenant.key, type=crit, user=user, title="New sign-in")
    doc = settled(tenant.key, nid, ["email", "in_app"])
    assert h.delivery(doc, "email")["status"] == "sent" and h.delivery(doc, "in_app")["status"] == "sent", doc
    h.wait_for_mail(user["email"], "New sign-in")

    # another user is not affected
    other = {"id": h.unique_user_id(), "email": h.unique_email("other")}
    nid = send_event(tenant.key, type=etype, user=other, title="Sale")
    doc = settled(tenant.key, nid, ["email"])
    assert h.delivery(doc, "email")["status"] == "sent", doc


def test_category_off_and_user_token(tenant):
    cat = key_name("tips").replace(".", "-")
    assert h.api("POST", "/v1/categories", body={"key": cat}, key=tenant.key).status == 201
    etype = key_name("tip")
    assert h.api("PUT", f"/v1/event-types/{etype}", body={"channels": ["in_app", "email"], "category": cat}, key=tenant.key).status == 200
    uid = h.unique_user_id()
    tok = h.api("POST", f"/v1/users/{uid}/token", body={}, key=tenant.key)
    assert tok.status == 200, tok
    auth = {"Authorization": f"Bearer {tok.json['token']}"}
    r = h.api("GET", "/v1/me/preferences", headers=auth)
    assert r.status == 200 and r.json["user"] == uid, r
    r = h.api("PUT", "/v1/me/preferences", body={"preferences": [{"category": cat, "channels": {"in_app": False}}]}, headers=auth)
    assert r.status == 200 and entry(r.json, "category", cat)["channels"]["in_app"] is False, r
    # the API key sees the user's own change
    assert entry(prefs(tenant, uid).json, "category", cat)["channels"]["in_app"] is False

    nid = send_event(tenant.key, type=etype, user={"id": uid, "email": h.unique_email("tip")})
    doc = settled(tenant.key, nid, ["in_app", "email"])
    assert h.delivery(doc, "in_app")["error"] == "preference", doc
    assert h.delivery(doc, "email")["status"] == "sent", doc

    h.assert_json_error(h.api("GET", "/v1/me/preferences"), 401, "unauthorized")
    h.assert_json_error(h.api("GET", "/v1/me/preferences", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    # an API key is not a user token
    h.assert_json_error(h.api("GET", "/v1/me/preferences", key=tenant.key), 401, "unauthorized")


def test_preference_validation(tenant):
    uid = h.unique_user_id()
    for body, field in [
        ({"preferences": {}}, "preferences"),
        ({"preferences": [{"channels": {"email": False}}]}, "preferences[0]"),
        ({"preferences": [{"type": "a", "category": "b", "channels": {}}]}, "preferences[0]"),
        ({"preferences": [{"type": "a", "channels": {"fax": False}}]}, "preferences[0].channels.fax"),
        ({"preferences": [{"type": "a", "channels": {"email": "off"}}]}, "preferences[0].channels.email"),
        ({"preferences": [{"type": "a", "channels": {"email": False}}, {"type": "a", "channels": {"email": True}}]},
         "preferences[1].channels.email"),
    ]:
        r = h.api("PUT", f"/v1/users/{uid}/preferences", body=body, key=tenant.key)
        h.assert_json_error(r, 422, "validation_failed", field)
    assert h.api("GET", f"/v1/users/{uid}/preferences").status == 401
