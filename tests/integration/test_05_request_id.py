"""X-Request-Id ties a request to its log lines in the API, the router and the
worker; no log ever contains an API key."""

import herald_helpers as h
from herald_helpers import api, delivery, notification, random_api_key, unique_email, wait_for


def lines_with(name, rid):
    return [l for l in h.log_lines(name) if l.get("request_id") == rid]


def test_request_id_in_api_router_and_worker_logs(tenant, db):
    to = unique_email()
    r = api("POST", "/v1/notifications", body=notification(email=to, channels=["email"]), key=tenant.key)
    assert r.status == 202, r
    rid = r.request_id
    assert rid, r

    def api_line():
        for l in lines_with("herald-api", rid):
            if l.get("status") == 202:
                return l
        return None

    line = wait_for(api_line, 5, desc=f"a herald-api.log line with request_id {rid} and status 202")
    assert isinstance(line.get("route"), str) and "notifications" in line["route"], line
    assert isinstance(line.get("duration_ms"), (int, float)) and line["duration_ms"] >= 0, line
    assert line.get("method") in (None, "POST"), line

    nid = r.json["id"]
    wait_for(lambda: [l for l in lines_with("herald-router", rid) if l.get("notification_id") in (None, nid)], 5,
             desc=f"a herald-router.log line with request_id {rid}")
    doc = h.wait_notification(tenant.key, nid, lambda d: (delivery(d, "email") or {}).get("status") == "sent")
    assert doc
    h.wait_for_mail(to)
    wait_for(lambda: lines_with("herald-worker-email", rid), 5,
             desc=f"a herald-worker-email.log line with request_id {rid}")
    with db.cursor() as cur:
        cur.execute("SELECT request_id FROM notifications WHERE id = %s", (nid,))
        assert cur.fetchone()[0] == rid


def test_no_log_contains_an_api_key(tenant):
    unknown = random_api_key()
    for key in (tenant.dev_key, tenant.prod_key, unknown):
        r = api("POST", "/v1/notifications", body=notification(channels=["in_app"]), key=key)
        assert r.status in (202, 401), r
        r = api("GET", f"/v1/notifications/{h.random_uuid7()}", key=key)
        assert r.status in (404, 401), r
    # a refused request with the key in the body too
    r = api("POST", "/v1/notifications", raw=("{" + tenant.dev_key).encode(), key=tenant.dev_key)
    assert r.status == 400, r
    # give the loggers a moment, then look through every log of the run
    wait_for(lambda: [l for l in h.log_lines("herald-api") if l.get("request_id") == r.request_id], 5,
             desc="the last request's log line")
    secrets = [tenant.dev_key, tenant.prod_key, unknown]
    # the part after the prefix is the secret: look for it on its own too
    secrets += [k[len("hk_test_"):] for k in secrets]
    leaks = []
    files = h.all_log_files()
    assert any(f.endswith("herald-api.log") for f in files), files
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        for s in secrets:
            if s.encode() in data:
                leaks.append((path, s[:12] + "…"))
    assert not leaks, f"API keys found in logs: {leaks}"
