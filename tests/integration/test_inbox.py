"""The in-app inbox API: GET /v1/inbox (cursor, limit, unread, archived),
GET /v1/inbox/unread-count, POST /v1/inbox/{id}/read|unread|archive and
POST /v1/inbox/read-all, with an end-user token or an API key naming the
user (?user= on GET, {"user": ...} on POST), and its errors."""

import urllib.parse
import uuid

import pytest

import herald_helpers as h


def user_token(key, user, ttl=3600):
    r = h.api("POST", f"/v1/users/{urllib.parse.quote(user, safe='')}/token", body={"ttl": ttl}, key=key)
    assert r.status == 200, r
    return r.json["token"]


def fill(tenant, user, n):
    titles = []
    for i in range(n):
        t = f"inbox {i} {uuid.uuid4().hex[:8]}"
        r = h.post_notification(tenant.key, {"user": {"id": user}, "type": "inbox.test", "title": t,
                                             "channels": ["in_app"]})
        assert r.status == 202, r
        titles.append(t)
    tok = user_token(tenant.key, user)
    h.wait_for(lambda: h.api("GET", "/v1/inbox/unread-count", key=tok).json["unread_count"] == n, 20,
               desc=f"{n} inbox items")
    return tok, titles


@pytest.fixture
def filled(tenant):
    user = "inbox-" + uuid.uuid4().hex[:10]
    tok, titles = fill(tenant, user, 5)
    return tenant, user, tok, titles


def test_list_pages_and_filters(filled):
    tenant, user, tok, titles = filled
    r = h.api("GET", "/v1/inbox", key=tok)
    assert r.status == 200, r
    doc = r.json
    assert doc["unread_count"] == 5 and doc["next_cursor"] is None
    assert [i["title"] for i in doc["items"]] == titles[::-1]  # newest first
    it = doc["items"][0]
    assert set(it) >= {"id", "notification_id", "title", "body", "data", "read", "read_at",
                       "archived", "archived_at", "created_at"}
    assert it["read"] is False and it["read_at"] is None and h.TS_RE.match(it["created_at"])
    # Pages of 2 with the cursor.
    seen, cursor = [], None
    while True:
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = h.api("GET", "/v1/inbox" + q, key=tok).json
        seen += [i["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == titles[::-1]
    # Read two; filter unread / read; archive one.
    ids = [i["id"] for i in doc["items"]]
    for i in ids[:2]:
        r = h.api("POST", f"/v1/inbox/{i}/read", key=tok)
        assert r.status == 200 and r.json["item"]["read"] is True, r
    assert r.json["unread_count"] == 3
    unread = h.api("GET", "/v1/inbox?unread=true", key=tok).json
    assert {i["id"] for i in unread["items"]} == set(ids[2:])
    read = h.api("GET", "/v1/inbox?unread=false", key=tok).json
    assert {i["id"] for i in read["items"]} == set(ids[:2])
    r = h.api("POST", f"/v1/inbox/{ids[2]}/archive", key=tok)
    assert r.status == 200 and r.json["item"]["archived"] is True and r.json["unread_count"] == 2
    assert ids[2] not in [i["id"] for i in h.api("GET", "/v1/inbox", key=tok).json["items"]]
    arch = h.api("GET", "/v1/inbox?archived=true", key=tok).json
    assert [i["id"] for i in arch["items"]] == [ids[2]]
    # Reading again is harmless; unread brings it back.
    assert h.api("POST", f"/v1/inbox/{ids[0]}/read", key=tok).json["unread_count"] == 2
    assert h.api("POST", f"/v1/inbox/{ids[0]}/unread", key=tok).json["unread_count"] == 3
    r = h.api("POST", "/v1/inbox/read-all", key=tok)
    assert r.status == 200 and r.json == {"updated": 3, "unread_count": 0}, r
    assert h.api("GET", "/v1/inbox/unread-count", key=tok).json == {"unread_count": 0}


def test_api_key_with_user(filled):
    tenant, user, tok, titles = filled
    r = h.api("GET", f"/v1/inbox?user={urllib.parse.quote(user)}&limit=1", key=tenant.key)
    assert r.status == 200 and len(r.json["items"]) == 1 and r.json["unread_count"] == 5, r
    r = h.api("GET", f"/v1/inbox/unread-count?user={user}", key=tenant.key)
    assert r.json == {"unread_count": 5}
    item = r_id = h.api("GET", f"/v1/inbox?user={user}", key=tenant.key).json["items"][0]["id"]
    r = h.api("POST", f"/v1/inbox/{item}/read", body={"user": user}, key=tenant.key)
    assert r.status == 200 and r.json["unread_count"] == 4, r
    r = h.api("POST", "/v1/inbox/read-all", body={"user": user}, key=tenant.key)
    assert r.status == 200 and r.json["unread_count"] == 0, r
    # The user is required with a key, and named in the error.
    h.assert_json_error(h.api("GET", "/v1/inbox", key=tenant.key), 422, "validation_failed", "user")
    h.assert_json_error(h.api("POST", f"/v1/inbox/{r_id}/read", body={}, key=tenant.key), 422,
                        "validation_failed", "user")
    h.assert_json_error(h.api("POST", "/v1/inbox/read-all", body={"user": user, "x": 1}, key=tenant.key),
                        422, "validation_failed", "x")
    h.assert_json_error(h.api("POST", "/v1/inbox/read-all", raw="{", key=tenant.key), 400, "invalid_json")


def test_isolation_and_errors(filled, tenant_factory):
    tenant, user, tok, titles = filled
    item = h.api("GET", "/v1/inbox", key=tok).json["items"][0]["id"]
    other = user_token(tenant.key, "someone-else-" + uuid.uuid4().hex[:6])
    # Another user's item: 404, and nothing changed.
    h.assert_json_error(h.api("POST", f"/v1/inbox/{item}/read", key=other), 404, "not_found")
    assert h.api("GET", "/v1/inbox", key=other).json["items"] == []
    # Another tenant's key naming the same user id sees nothing of it.
    t2 = tenant_factory()
    assert h.api("GET", f"/v1/inbox?user={user}", key=t2.key).json["items"] == []
    h.assert_json_error(h.api("POST", f"/v1/inbox/{item}/archive", body={"user": user}, key=t2.key),
                        404, "not_found")
    assert h.api("GET", "/v1/inbox/unread-count", key=tok).json["unread_count"] == 5
    # Malformed ids, bad parameters, bad tokens, wrong methods.
    h.assert_json_error(h.api("POST", "/v1/inbox/not-a-uuid/read", key=tok), 404, "not_found")
    h.assert_json_error(h.api("GET", "/v1/inbox?limit=101", key=tok), 422, "validation_failed", "limit")
    h.assert_json_error(h.api("GET", "/v1/inbox?limit=0", key=tok), 422, "validation_failed", "limit")
    h.assert_json_error(h.api("GET", "/v1/inbox?unread=maybe", key=tok), 422, "validation_failed", "unread")
    h.assert_json_error(h.api("GET", "/v1/inbox?cursor=xyz", key=tok), 422, "validation_failed", "cursor")
    h.assert_json_error(h.api("GET", "/v1/inbox"), 401, "unauthorized")
    h.assert_json_error(h.api("GET", "/v1/inbox", key=tok[:-4] + "AAAA"), 401, "unauthorized")
    h.assert_json_error(h.api("GET", "/v1/inbox", key=h.random_api_key()), 401, "unauthorized")
    r = h.api("DELETE", "/v1/inbox", key=tok)
    assert r.status == 405, r
    r = h.api("GET", "/v1/inbox/read-all", key=tok)
    assert r.status == 405, r
