"""Health and readiness, and the X-Request-Id every response carries."""

from herald_helpers import JSON_CT, api


def test_healthz():
    r = api("GET", "/healthz")
    assert r.status == 200, r
    assert r.content_type == JSON_CT, r
    assert r.json == {"status": "ok"}, r
    assert r.request_id, r


def test_readyz():
    r = api("GET", "/readyz")
    assert r.status == 200, r
    assert r.content_type == JSON_CT, r
    assert r.json.get("status") == "ready", r
    assert r.json.get("redis") == "ok", r
    assert r.json.get("postgres") == "ok", r
    assert r.request_id, r


def test_every_response_has_a_request_id(tenant):
    answers = [
        api("GET", "/healthz"),
        api("GET", "/readyz"),
        api("GET", "/v1/nope", key=tenant.key),  # 404 route
        api("GET", "/v1/notifications/not-a-uuid", key=tenant.key),  # 404 resource
        api("POST", "/v1/notifications", body={}),  # 401
        api("DELETE", "/v1/notifications", key=tenant.key),  # 405
        api("POST", "/v1/notifications", raw=b"{", key=tenant.key),  # 400
        api("GET", "/nothing-here-at-all"),  # outside /v1
    ]
    ids = []
    for r in answers:
        assert r.request_id, f"no X-Request-Id: {r!r}"
        ids.append(r.request_id)
    assert len(set(ids)) == len(ids), f"request ids repeat: {ids}"
