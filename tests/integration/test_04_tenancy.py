"""Every read is scoped by environment: another tenant's notification, or the
same tenant's other environment, is 404 -- before and after the router has
stored it."""

import herald_helpers as h
from herald_helpers import api, assert_json_error, notification, unique_email


def others_get_404(nid, keys):
    for label, key in keys:
        r = api("GET", f"/v1/notifications/{nid}", key=key)
        assert_json_error(r, 404, "not_found")
        assert nid not in r.raw.decode("utf-8", "replace"), f"{label} sees the id in the error: {r!r}"


def test_other_tenant_and_other_environment_get_404(tenant_factory, db):
    a, b = tenant_factory(), tenant_factory()
    r = api("POST", "/v1/notifications", body=notification(email=unique_email(), channels=["in_app"]), key=a.dev_key)
    assert r.status == 202, r
    nid = r.json["id"]
    strangers = [("tenant B development", b.dev_key), ("tenant B production", b.prod_key),
                 ("tenant A production", a.prod_key)]

    # while it may still be only in Redis ("accepted")
    others_get_404(nid, strangers)
    r = api("GET", f"/v1/notifications/{nid}", key=a.dev_key)
    assert r.status == 200, r

    # once stored in PostgreSQL
    h.wait_notification(a.dev_key, nid, lambda d: d["status"] == "completed")
    others_get_404(nid, strangers)
    with db.cursor() as cur:
        cur.execute("SELECT environment_id FROM notifications WHERE id = %s", (nid,))
        assert str(cur.fetchone()[0]) == a.dev_env


def test_production_key_sends_into_production_only(tenant):
    r = api("POST", "/v1/notifications", body=notification(channels=["in_app"]), key=tenant.prod_key)
    assert r.status == 202, r
    nid = r.json["id"]
    others_get_404(nid, [("development key", tenant.dev_key)])
    doc = h.wait_notification(tenant.prod_key, nid, lambda d: d["status"] == "completed")
    assert doc["id"] == nid
    others_get_404(nid, [("development key", tenant.dev_key)])
