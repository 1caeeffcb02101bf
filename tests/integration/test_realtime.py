"""herald-realtime against the real stack: WebSocket (/v1/realtime) and SSE
(/v1/stream) through nginx and directly, multi-tab fan-out, unread sync,
replay from Last-Event-ID and the resume message, resync after the replay
window, token refusals before the upgrade, the slow consumer, and two
gateways holding tabs of one user. Uses Debian's python3-websockets."""

import asyncio
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import uuid

import pytest
import websockets

import herald_helpers as h

WAIT = 15.0


# --------------------------------------------------------------------------
# helpers


def _ssl_ctx():
    ctx = getattr(h, "tls_context", None)
    if ctx is not None:
        return ctx()
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def base():
    return urllib.parse.urlsplit(h.env("HERALD_BASE_URL"))


def rt_port():
    return int(h.env("HERALD_RT_PORT"))


def user_token(tenant, user, ttl=3600, key=None):
    r = h.api("POST", f"/v1/users/{urllib.parse.quote(user, safe='')}/token", body={"ttl": ttl},
              key=key or tenant.key)
    assert r.status == 200, r
    h.remember_secrets(r.json["token"])  # no log may show it (test_security)
    return r.json["token"]


def send_in_app(tenant, user, title=None):
    title = title or f"rt {uuid.uuid4().hex[:10]}"
    r = h.post_notification(tenant.key, {"user": {"id": user}, "type": "rt.test", "title": title,
                                         "body": "hello", "channels": ["in_app"]})
    assert r.status == 202, r
    return title


def inbox(token, query=""):
    r = h.api("GET", "/v1/inbox" + query, key=token)
    assert r.status == 200, r
    return r.json


def wait_inbox_count(token, n):
    return h.wait_for(lambda: len(inbox(token)["items"]) >= n, WAIT, desc=f"{n} inbox items")


def ws_url(token, direct=False, port=None, query=""):
    q = "token=" + urllib.parse.quote(token) + query
    if direct or port:
        return f"ws://127.0.0.1:{port or rt_port()}/v1/realtime?{q}"
    u = base()
    scheme = "wss" if u.scheme == "https" else "ws"
    return f"{scheme}://{u.hostname}:{u.port}/v1/realtime?{q}"


class Tab:
    """One WebSocket connection, with the events it received."""

    def __init__(self, ws):
        self.ws = ws
        self.events = []

    async def next(self, pred=lambda e: True, timeout=WAIT):
        deadline = time.monotonic() + timeout
        for e in self.events:
            if pred(e):
                self.events.remove(e)
                return e
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event within {timeout} s; got {self.events!r}")
            try:
                msg = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            ev = json.loads(msg)
            if pred(ev):
                return ev
            self.events.append(ev)


async def open_tab(token, **kw):
    url = ws_url(token, **kw)
    ssl_ctx = _ssl_ctx() if url.startswith("wss") else None
    ws = await websockets.connect(url, ssl=ssl_ctx, open_timeout=10, max_size=None)
    tab = Tab(ws)
    hello = await tab.next(lambda e: e["type"] == "connected")
    return tab, hello


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


def raw_upgrade(path, headers=None, direct=False):
    """A WebSocket upgrade request answered by status, headers and body
    (the body of a refusal is JSON)."""
    u = base()
    if direct:
        conn = http.client.HTTPConnection("127.0.0.1", rt_port(), timeout=10)
    elif u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=_ssl_ctx())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    hdrs = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
    hdrs.update(headers or {})
    conn.request("GET", path, headers=hdrs)
    r = conn.getresponse()
    body = r.read() if r.status != 101 else b""
    conn.close()
    return r.status, r, body


class Sse:
    """An SSE stream read line by line (through nginx unless direct)."""

    def __init__(self, token, last_event_id=None, direct=False, query=""):
        u = base()
        if direct:
            self.conn = http.client.HTTPConnection("127.0.0.1", rt_port(), timeout=WAIT)
        elif u.scheme == "https":
            self.conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=WAIT, context=_ssl_ctx())
        else:
            self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=WAIT)
        hdrs = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            hdrs["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/v1/stream" + query, headers=hdrs)
        self.resp = self.conn.getresponse()

    def next(self, pred=lambda e: True):
        ev_id, data = None, None
        while True:
            line = self.resp.readline()
            if not line:
                raise AssertionError("SSE stream ended")
            line = line.decode().rstrip("\n")
            if line.startswith("id: "):
                ev_id = line[4:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                data["_sse_id"] = ev_id
                if pred(data):
                    return data
                ev_id, data = None, None

    def close(self):
        self.conn.close()


def forge_token(db, env_id, claims, sign_env=None):
    """A token signed with an environment's real signing secret (opened with
    the stack's master key through libsodium), with any claims: expired ones,
    or claims naming another environment."""
    with open(os.path.join(h.run_dir(), "master.key")) as f:
        master = bytes.fromhex(f.read().strip())
    with db.cursor() as cur:
        cur.execute("SELECT signing_secret FROM environments WHERE id = %s", (sign_env or env_id,))
        sealed = cur.fetchone()[0]
    box = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    nonce, ct = box[:24], box[24:]
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert sodium.sodium_init() >= 0
    out = ctypes.create_string_buffer(len(ct) - 16)
    rc = sodium.crypto_secretbox_open_easy(out, ct, ctypes.c_ulonglong(len(ct)), nonce, master)
    assert rc == 0, "cannot open the signing secret"
    secret = out.raw

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


@pytest.fixture
def rt(tenant):
    user = "rt-" + uuid.uuid4().hex[:12]
    return tenant, user, user_token(tenant, user)


# --------------------------------------------------------------------------
# tests


def test_gateway_health_direct():
    conn = http.client.HTTPConnection("127.0.0.1", rt_port(), timeout=5)
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    doc = json.loads(r.read())
    assert r.status == 200 and doc["status"] == "ok", doc


@pytest.mark.parametrize("direct", [False, True])
def test_token_failures_refused_before_upgrade(rt, db, direct):
    tenant, user, token = rt
    now = int(time.time())
    expired = forge_token(db, tenant.env, {"typ": "user", "sub": user, "env": tenant.env,
                                           "iat": now - 7200, "exp": now - 3600})
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "someone-else"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{head}.{forged_body}.{sig}"
    # A token of the production environment, signed with the development
    # environment's secret, and a real production token presented for dev.
    user_token(tenant, user, key=tenant.prod_key)  # makes the production secret
    other_env = forge_token(db, tenant.prod_env, {"typ": "user", "sub": user, "env": tenant.prod_env,
                                                  "iat": now, "exp": now + 600}, sign_env=tenant.env)
    prod_token = user_token(tenant, user, key=tenant.prod_key)
    cases = {
        "missing": ("/v1/realtime", {}),
        "expired": ("/v1/realtime?token=" + expired, {}),
        "forged": ("/v1/realtime", {"Authorization": f"Bearer {forged}"}),
        "other environment's secret": ("/v1/realtime?token=" + other_env, {}),
        "wrong environment": (f"/v1/realtime?env={tenant.env}&token={prod_token}", {}),
        "api key": ("/v1/realtime", {"Authorization": f"Bearer {tenant.key}"}),
        "garbage": ("/v1/realtime?token=abc.def.ghi", {}),
    }
    for name, (path, hdrs) in cases.items():
        status, resp, body = raw_upgrade(path, hdrs, direct=direct)
        assert status == 401, f"{name}: {status} {body!r}"
        assert resp.getheader("Upgrade") is None, name
        err = json.loads(body)["error"]
        assert err["code"] == "unauthorized", (name, err)
    # The same tokens on SSE.
    for bad in (expired, forged, other_env):
        s = Sse(bad, direct=direct)
        assert s.resp.status == 401, s.resp.status
        assert json.loads(s.resp.read())["error"]["code"] == "unauthorized"
        s.close()
    # And the good one is accepted, in the header or the query.
    status, _, body = raw_upgrade("/v1/realtime", {"Authorization": f"Bearer {token}"}, direct=direct)
    assert status == 101, body


def test_multi_tab_fanout_and_unread_sync(rt):
    tenant, user, token = rt

    async def go():
        a, hello_a = await open_tab(token)
        b, _ = await open_tab(token)
        c, _ = await open_tab(token, direct=True)
        assert hello_a["unread_count"] == 0 and hello_a["user"] == user
        sse = Sse(token)
        assert sse.resp.status == 200
        assert sse.resp.getheader("Content-Type").startswith("text/event-stream")
        assert sse.next()["type"] == "connected"
        title = send_in_app(tenant, user)
        got = [await t.next(lambda e: e["type"] == "notification.created") for t in (a, b, c)]
        got.append(await asyncio.get_running_loop().run_in_executor(
            None, lambda: sse.next(lambda e: e["type"] == "notification.created")))
        for ev in got:
            assert ev["item"]["title"] == title and ev["unread_count"] == 1, ev
            assert ev["item"]["read"] is False
        assert len({ev.get("id") or ev.get("_sse_id") for ev in got}) == 1, got
        item_id = got[0]["item"]["id"]
        # Mark read in "one tab" (the inbox API with the user token): every tab drops.
        r = h.api("POST", f"/v1/inbox/{item_id}/read", key=token)
        assert r.status == 200 and r.json["unread_count"] == 0, r
        for t in (a, b, c):
            ev = await t.next(lambda e: e["type"] == "notification.read")
            assert ev["unread_count"] == 0 and ev["item"]["id"] == item_id and ev["item"]["read"]
        r = h.api("POST", f"/v1/inbox/{item_id}/unread", key=token)
        assert r.status == 200 and r.json["unread_count"] == 1, r
        for t in (a, b, c):
            ev = await t.next(lambda e: e["type"] == "notification.unread")
            assert ev["unread_count"] == 1
        r = h.api("POST", "/v1/inbox/read-all", key=token)
        assert r.status == 200 and r.json["unread_count"] == 0 and r.json["updated"] == 1, r
        for t in (a, b, c):
            ev = await t.next(lambda e: e["type"] == "notifications.read_all")
            assert ev["unread_count"] == 0
        r = h.api("POST", f"/v1/inbox/{item_id}/archive", key=token)
        assert r.status == 200, r
        ev = await a.next(lambda e: e["type"] == "notification.archived")
        assert ev["item"]["archived"] is True
        # A new tab is greeted with the current count.
        send_in_app(tenant, user)
        await a.next(lambda e: e["type"] == "notification.created")
        d, hello_d = await open_tab(token)
        assert hello_d["unread_count"] == 1, hello_d
        sse.close()
        for t in (a, b, c, d):
            await t.ws.close()

    run(go())


def test_sse_replay_from_last_event_id(rt):
    tenant, user, token = rt
    s = Sse(token)
    hello = s.next(lambda e: e["type"] == "connected")
    first = send_in_app(tenant, user)
    ev = s.next(lambda e: e["type"] == "notification.created")
    assert ev["item"]["title"] == first
    last_id = ev["_sse_id"]
    assert last_id and hello["last_event_id"] == "0-0"
    s.close()
    # Away: two more arrive.
    t2, t3 = send_in_app(tenant, user), send_in_app(tenant, user)
    wait_inbox_count(token, 3)
    s = Sse(token, last_event_id=last_id)
    s.next(lambda e: e["type"] == "connected")
    a = s.next(lambda e: e["type"] == "notification.created")
    b = s.next(lambda e: e["type"] == "notification.created")
    assert [a["item"]["title"], b["item"]["title"]] == [t2, t3]
    assert a["unread_count"] == 2 and b["unread_count"] == 3
    s.close()
    # Resuming from the newest id replays nothing; live events still come.
    s = Sse(token, last_event_id=b["_sse_id"])
    s.next(lambda e: e["type"] == "connected")
    t4 = send_in_app(tenant, user)
    ev = s.next(lambda e: e["type"].startswith("notification"))
    assert ev["item"]["title"] == t4
    s.close()
    # A fresh connection's greeting id is a resume point too (?last_event_id= works).
    s = Sse(token)
    g = s.next(lambda e: e["type"] == "connected")
    s.close()
    assert g["_sse_id"] == ev["_sse_id"], (g, ev)
    t5 = send_in_app(tenant, user)
    wait_inbox_count(token, 5)
    s = Sse(token, query="?last_event_id=" + g["_sse_id"])
    ev = s.next(lambda e: e["type"] == "notification.created")
    assert ev["item"]["title"] == t5
    s.close()


def test_ws_resume_message_and_url(rt):
    tenant, user, token = rt

    async def go():
        a, hello = await open_tab(token)
        t1 = send_in_app(tenant, user)
        e1 = await a.next(lambda e: e["type"] == "notification.created")
        await a.ws.close()
        t2 = send_in_app(tenant, user)
        t3 = send_in_app(tenant, user)
        await asyncio.get_running_loop().run_in_executor(None, wait_inbox_count, token, 3)
        # Resume with the URL parameter ...
        b, _ = await open_tab(token, query="&last_event_id=" + e1["id"])
        got = [await b.next(lambda e: e["type"] == "notification.created") for _ in range(2)]
        assert [g["item"]["title"] for g in got] == [t2, t3]
        await b.ws.close()
        # ... or with the resume message after connecting.
        c, _ = await open_tab(token)
        await c.ws.send(json.dumps({"type": "resume", "last_event_id": e1["id"]}))
        got = [await c.next(lambda e: e["type"] == "notification.created") for _ in range(2)]
        assert [g["item"]["title"] for g in got] == [t2, t3]
        assert t1 not in [g["item"]["title"] for g in got]
        await c.ws.close()

    run(go())


def test_resync_after_replay_window(rt):
    tenant, user, token = rt
    send_in_app(tenant, user)
    wait_inbox_count(token, 1)
    # An id from long before the window (or a malformed one): refetch the inbox.
    for old in ("1000-0", "garbage"):
        s = Sse(token, last_event_id=old)
        s.next(lambda e: e["type"] == "connected")
        ev = s.next(lambda e: e["type"] == "resync")
        assert ev["reason"] in ("replay_window", "bad_last_event_id"), ev
        assert ev["_sse_id"], ev  # the new resume point
        s.close()

    async def go():
        a, _ = await open_tab(token)
        await a.ws.send(json.dumps({"type": "resume", "last_event_id": "5-0"}))
        ev = await a.next(lambda e: e["type"] == "resync")
        assert ev["reason"] == "replay_window" and ev["id"]
        await a.ws.close()

    run(go())


def _ws_handshake_raw(token, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/realtime?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return s


def gateway_stats(port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or rt_port(), timeout=5)
    conn.request("GET", "/healthz")
    doc = json.loads(conn.getresponse().read())
    conn.close()
    return doc


N = 1000


def test_slow_consumer_gets_resync_and_is_closed(rt, rds):
    tenant, user, token = rt
    before = gateway_stats()["slow_dropped"]
    slow = _ws_handshake_raw(token, rt_port())  # never reads

    async def go():
        fast, _ = await open_tab(token, direct=True)
        big = "x" * 16384
        ms = int(time.time() * 1000) + 10
        # Bursts smaller than the queue bound (256), so the reading tab keeps up;
        # the one that never reads falls ever further behind.
        for batch in range(N // 100):
            pipe = rds.pipeline(transaction=False)
            for i in range(batch * 100, batch * 100 + 100):
                ev = json.dumps({"type": "notification.created", "unread_count": i,
                                 "item": {"id": str(uuid.uuid4()), "title": f"bulk {i}", "body": big}})
                pipe.xadd("herald:rt", {"e": tenant.env, "u": user, "id": f"{ms}-{i}", "ev": ev},
                          maxlen=100000, approximate=True)
            pipe.execute()
            for _ in range(100):
                await fast.next(lambda e: e["type"] == "notification.created", timeout=30)
        await fast.ws.close()

    run(go())
    h.wait_for(lambda: gateway_stats()["slow_dropped"] > before, 20, desc="slow consumer dropped")
    # Its socket is closed by the gateway: reading drains to EOF (with the
    # resync frame among the last bytes when it fit).
    slow.settimeout(20)
    data = b""
    while True:
        try:
            chunk = slow.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    slow.close()
    assert len(data) < N * 16384, "the gateway did not stop sending to the slow consumer"


def test_backlog_goes_out_whole_and_in_order(rt, rds):
    """Events that pile up for a tab (frame headers of both sizes side by
    side) all reach it, intact and in order."""
    tenant, user, token = rt

    async def go():
        tab, _ = await open_tab(token, direct=True)
        ms = int(time.time() * 1000) + 10
        sent = []
        pipe = rds.pipeline(transaction=False)
        for i in range(200):
            # Every fourth frame under 126 bytes (a 2-byte header), the others
            # up to ~3 KB (a 4-byte header).
            body = "" if i % 4 == 0 else "y" * ((i * 37) % 3000)
            ev = {"type": "notification.created", "unread_count": i,
                  "item": {"id": str(i), "title": f"b{i}", "body": body}}
            sent.append(ev)
            pipe.xadd("herald:rt", {"e": tenant.env, "u": user, "id": f"{ms}-{i}",
                                    "ev": json.dumps(ev)}, maxlen=100000, approximate=True)
        pipe.execute()
        got = [await tab.next(lambda e: e["type"] == "notification.created") for _ in sent]
        await tab.ws.close()
        assert [(g["item"]["title"], g["item"]["body"], g["unread_count"]) for g in got] == \
            [(e["item"]["title"], e["item"]["body"], e["unread_count"]) for e in sent]
        assert [g["id"] for g in got] == [f"{ms}-{i}" for i in range(200)]

    run(go())


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    if p >= 32768:  # stay out of the ephemeral range
        for cand in range(24000, 32000, 7):
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", cand))
                t.close()
                return cand
            except OSError:
                t.close()
    return p


def test_two_gateways_one_user(rt):
    tenant, user, token = rt
    port = _free_port()
    envv = dict(os.environ)
    envv["HERALD_REALTIME_PORT"] = str(port)
    log = open(h.log_path("herald-realtime-second"), "ab")
    proc = subprocess.Popen([h.bin_path("herald-realtime"), "-c", h.env("HERALD_CONFIG")],
                            env=envv, stdout=log, stderr=log)
    try:
        h.wait_for(lambda: _port_open(port), 10, desc="second gateway listening")

        async def go():
            a, _ = await open_tab(token)               # through nginx: gateway 1
            b, _ = await open_tab(token, port=port)    # gateway 2
            title = send_in_app(tenant, user)
            ea = await a.next(lambda e: e["type"] == "notification.created")
            eb = await b.next(lambda e: e["type"] == "notification.created")
            assert ea["item"]["title"] == eb["item"]["title"] == title
            assert ea["id"] == eb["id"]
            r = h.api("POST", f"/v1/inbox/{ea['item']['id']}/read", key=token)
            assert r.status == 200
            assert (await b.next(lambda e: e["type"] == "notification.read"))["unread_count"] == 0
            # SIGTERM: the second gateway tells its tab to reconnect elsewhere.
            proc.send_signal(signal.SIGTERM)
            ev = await b.next(lambda e: e["type"] == "reconnect", timeout=10)
            assert ev["reason"] == "shutdown"
            with pytest.raises(websockets.exceptions.ConnectionClosed) as ei:
                await asyncio.wait_for(b.ws.recv(), 10)
            assert ei.value.code == 1012, ei.value
            await a.ws.close()

        run(go())
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def test_connection_limit_per_user(rt):
    tenant, user, token = rt
    # The stack's limit is the default 32 per user on a gateway.
    async def go():
        tabs = [await open_tab(token, direct=True) for _ in range(32)]
        status, _, body = raw_upgrade(f"/v1/realtime?token={token}", direct=True)
        assert status == 429 and json.loads(body)["error"]["code"] == "too_many_connections"
        for t, _ in tabs:
            await t.ws.close()

    run(go())
