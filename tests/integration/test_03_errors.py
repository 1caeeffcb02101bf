"""Refused requests: the right status and error code, a JSON body naming the
field, and nothing enqueued in Redis or stored in PostgreSQL. A client mistake
is never a 5xx."""

import configparser
import contextlib
import json
import os
import random
import time

import pytest

import herald_helpers as h
from herald_helpers import api, assert_json_error, notification, random_api_key, random_uuid7, unique_email


MAX_BODY = 1024 * 1024


@pytest.fixture(scope="module")
def etenant():
    """One tenant for the whole module: it must never get a notification."""
    return h.create_tenant("itest-errors")


@pytest.fixture(scope="module")
def baseline(etenant, rds, db):
    return {"ingest": h.ingest_marker(rds)}


@pytest.fixture
def nothing_enqueued(rds, db, etenant, baseline):
    """Context manager: the block must not add to herald:ingest nor store a
    notification for the tenant (PostgreSQL is checked again, after a pause,
    by test_zz_nothing_was_stored at the end of the module)."""

    @contextlib.contextmanager
    def guard():
        before = h.ingest_marker(rds)
        pg_before = h.notifications_count(db, etenant.dev_env) + h.notifications_count(db, etenant.prod_env)
        yield
        after = h.ingest_marker(rds)
        assert after == before, f"a refused request was enqueued: herald:ingest {before} -> {after}"
        pg_after = h.notifications_count(db, etenant.dev_env) + h.notifications_count(db, etenant.prod_env)
        assert pg_after == pg_before == 0, f"notifications stored: {pg_before} -> {pg_after}"

    return guard


def valid():
    return notification(email=unique_email(), channels=["email", "in_app"])


def with_(path, value):
    """A valid payload with one member replaced (value None: removed)."""
    p = valid()
    *parents, last = path.split(".")
    obj = p
    for k in parents:
        obj = obj[k]
    if value is None:
        del obj[last]
    else:
        obj[last] = value
    return p


KEY = object()  # stands for the tenant's valid key in the table below

# (id, request kwargs, status, code, field) -- field None: not checked
CASES = [
    ("invalid_json", dict(raw=b'{"user": {"id": "a"}, "type": '), 400, "invalid_json", None),
    ("invalid_json_trailing_comma", dict(raw=b'{"user": {"id": "a"},}'), 400, "invalid_json", None),
    ("text_plain", dict(body=valid(), headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type", None),
    ("form_urlencoded", dict(raw=b"user=a&title=b", headers={"Content-Type": "application/x-www-form-urlencoded"}),
     415, "unsupported_media_type", None),
    ("no_content_type", dict(body=valid(), headers={"Content-Type": None}), 415, "unsupported_media_type", None),
    ("missing_authorization", dict(body=valid(), key=None), 401, "unauthorized", None),
    ("unknown_key", dict(body=valid(), key=random_api_key("hk_test_")), 401, "unauthorized", None),
    ("unknown_live_key", dict(body=valid(), key=random_api_key("hk_live_")), 401, "unauthorized", None),
    ("malformed_key", dict(body=valid(), headers={"Authorization": "Bearer abc"}), 401, "unauthorized", None),
    ("empty_bearer", dict(body=valid(), headers={"Authorization": "Bearer "}), 401, "unauthorized", None),
    ("basic_scheme", dict(body=valid(), headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "unauthorized", None),
    ("missing_user", dict(body=with_("user", None)), 422, "validation_failed", "user"),
    ("user_not_object", dict(body=with_("user", "user-1")), 422, "validation_failed", "user"),
    ("missing_user_id", dict(body=with_("user.id", None)), 422, "validation_failed", "user.id"),
    ("empty_user_id", dict(body=with_("user.id", "")), 422, "validation_failed", "user.id"),
    ("user_id_too_long", dict(body=with_("user.id", "u" * 256)), 422, "validation_failed", "user.id"),
    ("user_id_control_char", dict(body=with_("user.id", "a\tb")), 422, "validation_failed", "user.id"),
    ("user_id_number", dict(body=with_("user.id", 42)), 422, "validation_failed", "user.id"),
    ("invalid_email", dict(body=with_("user.email", "not-an-email")), 422, "validation_failed", "user.email"),
    ("invalid_email_two_ats", dict(body=with_("user.email", "a@b@example.com")), 422, "validation_failed",
     "user.email"),
    ("email_too_long", dict(body=with_("user.email", "a" * 60 + "@" + "b" * 190 + ".com")), 422,
     "validation_failed", "user.email"),
    ("bad_phone", dict(body=with_("user.phone", "12345")), 422, "validation_failed", "user.phone"),
    ("bad_phone_letters", dict(body=with_("user.phone", "+1415555CALL")), 422, "validation_failed", "user.phone"),
    ("unknown_user_field", dict(body=with_("user.mail", "a@example.com")), 422, "validation_failed", "user.mail"),
    ("unknown_channel_second", dict(body=with_("channels", ["email", "pigeon"])), 422, "validation_failed",
     "channels[1]"),
    ("duplicate_channel", dict(body=with_("channels", ["email", "in_app", "email"])), 422, "validation_failed",
     "channels[2]"),
    ("channel_not_string", dict(body=with_("channels", [7])), 422, "validation_failed", "channels[0]"),
    ("channels_empty", dict(body=with_("channels", [])), 422, "validation_failed", "channels"),
    ("channels_not_array", dict(body=with_("channels", "email")), 422, "validation_failed", "channels"),
    ("missing_title", dict(body=with_("title", None)), 422, "validation_failed", "title"),
    ("empty_title", dict(body=with_("title", "")), 422, "validation_failed", "title"),
    ("title_too_long", dict(body=with_("title", "t" * 501)), 422, "validation_failed", "title"),
    ("title_not_string", dict(body=with_("title", ["x"])), 422, "validation_failed", "title"),
    ("missing_type", dict(body=with_("type", None)), 422, "validation_failed", "type"),
    ("bad_type", dict(body=with_("type", "Order Shipped")), 422, "validation_failed", "type"),
    ("type_starts_with_dot", dict(body=with_("type", ".order")), 422, "validation_failed", "type"),
    ("body_too_long", dict(body=with_("body", "b" * 20001)), 422, "validation_failed", "body"),
    ("data_not_object", dict(body=with_("data", [1, 2])), 422, "validation_failed", "data"),
    ("unknown_top_level_field", dict(body=with_("titel", "typo")), 422, "validation_failed", "titel"),
    ("top_level_array", dict(raw=b"[]"), 422, "validation_failed", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refused_post(case, etenant, nothing_enqueued):
    _id, kw, status, code, field = case
    kw = dict(kw)
    if "key" not in kw:
        kw["key"] = etenant.dev_key
    if "headers" in kw and "Authorization" in kw["headers"]:
        kw["key"] = None
    with nothing_enqueued():
        r = api("POST", "/v1/notifications", **kw)
    err = assert_json_error(r, status, code, **({} if field is None else {"field": field}))
    if code == "validation_failed" and field:
        assert field in err["message"], f"the message does not name {field}: {err}"


def test_get_unknown_notification(etenant, nothing_enqueued):
    with nothing_enqueued():
        r = api("GET", f"/v1/notifications/{random_uuid7()}", key=etenant.dev_key)
    assert_json_error(r, 404, "not_found")


@pytest.mark.parametrize("nid", ["not-a-uuid", "0192", "zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz",
                                 "01a20233-ddbf-7c8d-a33b-38a6d73d2039x", "%20"])
def test_get_notification_with_bad_id(etenant, nothing_enqueued, nid):
    with nothing_enqueued():
        r = api("GET", f"/v1/notifications/{nid}", key=etenant.dev_key)
    assert_json_error(r, 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/notifications/%00", "/v1/notifications/..%2f..%2fetc",
                                  "/v1/notifications/%ff%fe", "/v1/notifications/" + "a" * 5000])
def test_get_with_hostile_path_is_a_json_4xx(etenant, nothing_enqueued, path):
    """nginx may refuse these itself (400); whoever answers, it is a JSON 4xx."""
    with nothing_enqueued():
        r = api("GET", path, key=etenant.dev_key)
    assert 400 <= r.status < 500, r
    assert r.content_type == h.JSON_CT and isinstance(r.json.get("error"), dict), r
    assert r.request_id, r


def test_get_requires_a_key(etenant):
    r = api("GET", f"/v1/notifications/{random_uuid7()}")
    assert_json_error(r, 401, "unauthorized")


def test_unknown_route(etenant, nothing_enqueued):
    with nothing_enqueued():
        r = api("GET", "/v1/nope", key=etenant.dev_key)
        assert_json_error(r, 404, "not_found")
        r = api("POST", "/v1/nope", body=valid(), key=etenant.dev_key)
        assert_json_error(r, 404, "not_found")


def test_wrong_method(etenant, nothing_enqueued):
    with nothing_enqueued():
        r = api("DELETE", "/v1/notifications", key=etenant.dev_key)
        assert_json_error(r, 405, "method_not_allowed")
        r = api("PATCH", f"/v1/notifications/{random_uuid7()}", body={}, key=etenant.dev_key)
        assert_json_error(r, 405, "method_not_allowed")


# ---------------------------------------------------------------- body size


def padded(size):
    """A JSON object of exactly `size` bytes whose padding is an unknown field
    (so if it gets past the size checks it is refused as 422 naming "pad")."""
    p = valid()
    p["pad"] = ""
    base = len(json.dumps(p).encode())
    p["pad"] = "x" * (size - base)
    raw = json.dumps(p).encode()
    assert len(raw) == size
    return raw


def test_body_over_limit_nginx_content_length(etenant, nothing_enqueued):
    with nothing_enqueued():
        r = api("POST", "/v1/notifications", raw=padded(MAX_BODY + 1), key=etenant.dev_key)
    assert_json_error(r, 413, "payload_too_large")


def test_body_over_limit_chunked(etenant, nothing_enqueued):
    with nothing_enqueued():
        r = api("POST", "/v1/notifications", raw=padded(2 * MAX_BODY), key=etenant.dev_key, chunked=True)
    assert_json_error(r, 413, "payload_too_large")


def test_body_at_limit_reaches_validation(etenant, nothing_enqueued):
    """Exactly max_body bytes passes nginx and the API's size check, and is
    then refused for its unknown member: both layers use the same limit."""
    with nothing_enqueued():
        r = api("POST", "/v1/notifications", raw=padded(MAX_BODY), key=etenant.dev_key)
    assert_json_error(r, 422, "validation_failed", field="pad")


def api_socket():
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), strict=False, interpolation=None)
    cp.read(h.env("HERALD_CONFIG"))
    path = cp.get("api", "socket", fallback="") or os.path.join(h.run_dir(), "api.sock")
    if not os.path.isabs(path):
        path = os.path.join(h.run_dir(), os.path.basename(path))
    return path


def fcgi_params(key, length=None):
    p = {
        "REQUEST_METHOD": "POST",
        "REQUEST_URI": "/v1/notifications",
        "DOCUMENT_URI": "/v1/notifications",
        "SCRIPT_NAME": "/v1/notifications",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "HTTP_X_REQUEST_ID": "itest" + random_uuid7().replace("-", "")[:27],
        "REQUEST_ID": "itest" + random_uuid7().replace("-", "")[:27],
    }
    if length is not None:
        p["CONTENT_LENGTH"] = str(length)
    return p


def test_api_itself_enforces_the_limit_content_length(etenant, nothing_enqueued):
    """Straight to herald-api's FastCGI socket, bypassing nginx."""
    body = padded(MAX_BODY + 1)
    with nothing_enqueued():
        status, headers, payload = h.fastcgi_request(api_socket(), fcgi_params(etenant.dev_key, len(body)), body)
    assert status == 413, (status, headers, payload[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert json.loads(payload)["error"]["code"] == "payload_too_large", payload[:300]


def test_api_itself_enforces_the_limit_without_length(etenant, nothing_enqueued):
    body = padded(2 * MAX_BODY)
    with nothing_enqueued():
        status, headers, payload = h.fastcgi_request(api_socket(), fcgi_params(etenant.dev_key, None), body)
    assert status == 413, (status, headers, payload[:300])
    assert json.loads(payload)["error"]["code"] == "payload_too_large", payload[:300]


def test_api_socket_answers_a_valid_size_over_fastcgi(etenant, nothing_enqueued):
    """Sanity check of the FastCGI client used above (nothing is accepted:
    the body is refused for its unknown member)."""
    body = padded(1000)
    with nothing_enqueued():
        status, _headers, payload = h.fastcgi_request(api_socket(), fcgi_params(etenant.dev_key, len(body)), body)
    assert status == 422, (status, payload[:300])
    assert json.loads(payload)["error"]["field"] == "pad"


# ---------------------------------------------------------------- fuzz-ish

PREFIX = b'{"user":{"id":"fuzz"},"type":"fuzz","title":"t","data":{"v":'


def malformed_bodies():
    rnd = random.Random(20261122)
    bodies = [
        ("nested_arrays_10000", b"[" * 10000 + b"]" * 10000),
        ("unbalanced_arrays_10000", b"[" * 10000),
        ("nested_objects_10000", b'{"a":' * 10000 + b"1" + b"}" * 10000),
        ("nested_in_data", PREFIX + b"[" * 10000 + b"]" * 10000 + b"}}"),
        ("huge_integer", PREFIX + b"9" * 5000 + b"}}"),
        ("huge_float", PREFIX + b"1e999999}}"),
        ("huge_negative_float", PREFIX + b"-1e999999}}"),
        ("nan", PREFIX + b"NaN}}"),
        ("infinity", PREFIX + b"Infinity}}"),
        ("escaped_nul_in_user_id", b'{"user":{"id":"a\\u0000b"},"type":"t","title":"x"}'),
        ("escaped_nul_in_title", b'{"user":{"id":"a"},"type":"t","title":"x\\u0000y"}'),
        ("raw_nul_in_string", b'{"user":{"id":"a\x00b"},"type":"t","title":"x"}'),
        ("lone_surrogate", b'{"user":{"id":"\\ud800"},"type":"t","title":"x"}'),
        ("invalid_utf8", b'{"user":{"id":"\xff\xfe\xc3"},"type":"t","title":"x"}'),
        ("duplicate_keys", b'{"user":{"id":"a"},"type":"t","title":"x","title":"y"}'),
        ("empty", b""),
        ("whitespace", b" \r\n\t "),
        ("null", b"null"),
        ("number", b"42"),
        ("string", b'"hello"'),
        ("trailing_garbage", b'{"user":{"id":"a"},"type":"t","title":"x"} x'),
        ("bom", b'\xef\xbb\xbf{"user":{"id":"a"},"type":"t","title":"x"}'),
        ("comment", b'{"user":{"id":"a"}, // hi\n"type":"t","title":"x"}'),
        ("long_unknown_key", b'{"' + b"k" * 10000 + b'":1}'),
        ("user_id_control", b'{"user":{"id":"a\\u0001"},"type":"t","title":"x"}'),
    ]
    while len(bodies) < 30:
        n = rnd.choice([1, 7, 100, 4096, 65536])
        bodies.append((f"random_{len(bodies)}_{n}", bytes(rnd.getrandbits(8) for _ in range(n))))
    return bodies


def test_malformed_bodies_are_4xx_json(etenant, nothing_enqueued):
    bad = []
    with nothing_enqueued():
        for name, raw in malformed_bodies():
            r = api("POST", "/v1/notifications", raw=raw, key=etenant.dev_key)
            ok = (
                400 <= r.status < 500
                and r.content_type == h.JSON_CT
                and isinstance(r.json, dict)
                and isinstance(r.json.get("error"), dict)
                and isinstance(r.json["error"].get("code"), str)
            )
            if not ok:
                bad.append((name, r))
    assert not bad, "not a 4xx JSON error:\n" + "\n".join(f"  {n}: {r!r}" for n, r in bad)
    r = api("GET", "/healthz")
    assert r.status == 200 and r.json == {"status": "ok"}, r
    r = api("GET", "/readyz")
    assert r.status == 200, r


def test_zz_nothing_was_stored(etenant, rds, db, baseline):
    """Every request of this module was refused: after the router had time to
    act, the tenant has no notification and the ingest log did not grow."""
    time.sleep(1.0)
    assert h.ingest_marker(rds) == baseline["ingest"]
    assert h.notifications_count(db, etenant.dev_env) == 0
    assert h.notifications_count(db, etenant.prod_env) == 0
