"""Helpers shared by the integration tests: a small HTTP client for the API,
polling, the SMTP Maildir, the stack's run folder and Redis/PostgreSQL
bookkeeping. Only the standard library plus psycopg2/redis (Debian packages).
"""

import base64
import email
import email.policy
import http.client
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import time
import urllib.parse
import uuid

# --------------------------------------------------------------------------
# Environment (docs/STACK.md, "What the integration tests receive")

REQUIRED_ENV = (
    "HERALD_BASE_URL",
    "HERALD_RUN_DIR",
    "HERALD_CONFIG",
    "HERALD_BIN_DIR",
    "HERALD_PG_DSN",
    "HERALD_REDIS_HOST",
    "HERALD_REDIS_PORT",
    "HERALD_SMTP_MAILDIR",
)


def env(name):
    value = os.environ.get(name)
    if not value:
        raise AssertionError(
            f"{name} is not set: the integration tests run against a stack started by "
            "`scripts/herald test`"
        )
    return value


def run_dir():
    return env("HERALD_RUN_DIR")


def bin_path(program):
    return os.path.join(env("HERALD_BIN_DIR"), program)


def log_path(name):
    return os.path.join(run_dir(), "logs", name + ".log")


def pid_path(name, kind="child"):
    return os.path.join(run_dir(), "pids", f"{name}.{kind}")


# --------------------------------------------------------------------------
# Tenants


class Tenant:
    """Output of `herald-admin create-tenant`: one project with a development
    (hk_test_) and a production (hk_live_) environment and one key each."""

    def __init__(self, name, doc):
        self.name = name
        self.doc = doc
        self.id = doc["tenant_id"]
        self.project_id = doc["project_id"]
        envs = doc["environments"]
        self.dev_env = envs["development"]["id"]
        self.dev_key = envs["development"]["api_key"]
        self.prod_env = envs["production"]["id"]
        self.prod_key = envs["production"]["api_key"]

    # the key most tests use
    @property
    def key(self):
        return self.dev_key

    @property
    def env(self):
        return self.dev_env

    def __repr__(self):
        return f"<Tenant {self.name} {self.id}>"


def create_tenant(prefix="itest"):
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    cmd = [bin_path("herald-admin"), "-c", env("HERALD_CONFIG"), "create-tenant", "--name", name]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}"
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"herald-admin create-tenant printed no JSON: {p.stdout!r} {p.stderr!r}")
    t = Tenant(name, doc)
    assert t.dev_key.startswith("hk_test_"), doc
    assert t.prod_key.startswith("hk_live_"), doc
    assert t.dev_env != t.prod_env
    return t


# --------------------------------------------------------------------------
# HTTP

HTTP_TIMEOUT = 15.0
JSON_CT = "application/json"
_DEFAULT = object()


class Resp(tuple):
    """(status, headers, json) with the raw body and a few conveniences.

    headers is an http.client.HTTPMessage: .get() is case-insensitive."""

    def __new__(cls, status, headers, parsed, raw):
        self = super().__new__(cls, (status, headers, parsed))
        self.status = status
        self.headers = headers
        self.json = parsed
        self.raw = raw
        return self

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def request_id(self):
        return self.headers.get("X-Request-Id")

    def __repr__(self):
        body = self.raw[:600]
        return f"<HTTP {self.status} {self.content_type or '-'} {body!r}>"


_TLS_CTX = None


def tls_context():
    """An SSL context that verifies the stack's certificate against
    HERALD_CA_FILE (the CA `scripts/herald up` made, or the one configured),
    or the system's CAs when it is not set."""
    global _TLS_CTX
    if _TLS_CTX is None:
        import ssl

        _TLS_CTX = ssl.create_default_context(cafile=os.environ.get("HERALD_CA_FILE") or None)
    return _TLS_CTX


def _conn():
    u = urllib.parse.urlsplit(env("HERALD_BASE_URL"))
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=HTTP_TIMEOUT, context=tls_context())
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=HTTP_TIMEOUT)


def api(method, path, body=None, key=None, headers=None, raw=None, chunked=False):
    """One HTTP request to the stack (through nginx).

    body: a Python value sent as JSON; raw: bytes (or str) sent as they are.
    key: API key for `Authorization: Bearer`, or None for no header.
    headers: extra headers; a header whose value is None is not sent
    (e.g. {"Content-Type": None}).
    chunked: send the body with Transfer-Encoding: chunked (no Content-Length).
    Returns Resp = (status, headers, parsed JSON or None)."""
    if body is not None and raw is not None:
        raise ValueError("give body or raw, not both")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
    elif raw is not None:
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
    hdrs = {}
    if data is not None:
        hdrs["Content-Type"] = JSON_CT
    if key is not None:
        hdrs["Authorization"] = f"Bearer {key}"
    for k, v in (headers or {}).items():
        for existing in list(hdrs):
            if existing.lower() == k.lower():
                del hdrs[existing]
        hdrs[k] = v
    conn = _conn()
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            if v is not None:
                conn.putheader(k, v)
        if data is not None:
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            else:
                conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        if data is not None:
            try:
                if chunked:
                    step = 64 * 1024
                    for i in range(0, len(data), step):
                        piece = data[i : i + step]
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                    conn.send(b"0\r\n\r\n")
                else:
                    conn.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) and close before reading it all
        resp = conn.getresponse()
        payload = resp.read()
        parsed = None
        ct = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if payload and (ct == JSON_CT or ct.endswith("+json")):
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
        return Resp(resp.status, resp.msg, parsed, payload)
    finally:
        conn.close()


def post_notification(key, payload, **kw):
    return api("POST", "/v1/notifications", body=payload, key=key, **kw)


def get_notification(key, nid):
    return api("GET", f"/v1/notifications/{nid}", key=key)


def assert_json_error(r, status, code, field=_DEFAULT):
    """The contract's error shape: status, JSON content type, error.code,
    a message, and error.field when the contract names one."""
    assert r.status == status, f"expected {status} {code}, got {r!r}"
    assert r.content_type == JSON_CT, f"error is not JSON: {r!r}"
    assert isinstance(r.json, dict) and isinstance(r.json.get("error"), dict), f"no error object: {r!r}"
    err = r.json["error"]
    assert err.get("code") == code, f"expected code {code}: {r!r}"
    assert isinstance(err.get("message"), str) and err["message"], f"no message: {r!r}"
    if field is not _DEFAULT:
        assert err.get("field") == field, f"expected field {field!r}: {r!r}"
    assert r.request_id, f"no X-Request-Id on the error: {r!r}"
    return err


# --------------------------------------------------------------------------
# Payloads and ids


def unique_email(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex}@example.com"


def unique_user_id():
    return "user-" + uuid.uuid4().hex[:16]


def notification(email=None, title=None, channels=_DEFAULT, **extra):
    """A valid send request; every part can be overridden."""
    tag = uuid.uuid4().hex[:10]
    user = {"id": unique_user_id()}
    if email is not None:
        user["email"] = email
    p = {
        "user": user,
        "type": "order.shipped",
        "title": title if title is not None else f"Your order has shipped {tag}",
        "body": f"Order #{tag} is on its way.",
        "data": {"order": 1234, "tag": tag},
    }
    if channels is not _DEFAULT:
        p["channels"] = channels
    p.update(extra)
    return p


def assert_uuid7(s):
    assert isinstance(s, str), s
    u = uuid.UUID(s)
    assert str(u) == s.lower(), f"not a canonical UUID: {s}"
    assert u.variant == uuid.RFC_4122, f"not an RFC 4122/9562 UUID: {s}"
    assert u.version == 7, f"not a UUIDv7: {s}"
    ms = u.int >> 80
    now = time.time() * 1000
    assert abs(now - ms) < 10 * 60 * 1000, f"UUIDv7 time {ms} is far from now {now:.0f}"
    return u


def random_uuid7():
    ms = int(time.time() * 1000)
    rand = secrets.randbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def random_api_key(prefix="hk_test_"):
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

NOTIFICATION_STATES = {"accepted", "processing", "completed", "failed", "partially_failed"}
DELIVERY_STATES = {"queued", "sending", "sent", "delivered", "retrying", "failed", "skipped"}


# --------------------------------------------------------------------------
# Polling


def wait_for(predicate, timeout=10.0, interval=0.05, desc=None):
    """Calls predicate until it returns something truthy and returns that.
    Fails after timeout seconds, showing the last value (or exception)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except AssertionError as e:  # a predicate may assert while waiting
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            what = desc or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


def delivery(doc, channel):
    for d in doc.get("deliveries") or []:
        if d.get("channel") == channel:
            return d
    return None


def wait_notification(key, nid, done, timeout=15.0, desc=None):
    """Polls GET /v1/notifications/{id} until done(doc) is true; every answer
    on the way must be a 200 in a valid state (never a 404)."""

    def poll():
        r = get_notification(key, nid)
        assert r.status == 200, f"GET {nid} answered {r!r}"
        doc = r.json
        assert doc["status"] in NOTIFICATION_STATES, doc
        return doc if done(doc) else None

    return wait_for(poll, timeout, desc=desc or f"notification {nid}")


def all_settled(doc, channels):
    """True when every given channel has a delivery in a final state and the
    notification itself left accepted/processing."""
    final = {"sent", "delivered", "failed", "skipped"}
    for ch in channels:
        d = delivery(doc, ch)
        if d is None or d["status"] not in final:
            return False
    return doc["status"] not in ("accepted", "processing")


# --------------------------------------------------------------------------
# Maildir of the SMTP server


def read_maildir(maildir=None):
    """Every message in new/ and cur/ as (path, EmailMessage)."""
    maildir = maildir or env("HERALD_SMTP_MAILDIR")
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            continue
        for name in names:
            path = os.path.join(d, name)
            try:
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
            except (FileNotFoundError, IsADirectoryError):
                continue  # moved new/ -> cur/ while we looked
            out.append((path, msg))
    return out


def _recipients(msg):
    addrs = set()
    for header in ("To", "Cc", "X-RcptTo"):
        for value in msg.get_all(header) or []:
            try:
                for a in getattr(value, "addresses", ()):
                    addrs.add(a.addr_spec.lower())
            except Exception:
                pass
            for part in str(value).split(","):
                part = part.strip().strip("<>").lower()
                if "@" in part:
                    addrs.add(part)
    return addrs


def find_mails(to, subject=None, maildir=None):
    """Messages addressed to `to` (To header or the envelope's X-RcptTo),
    optionally with exactly this Subject."""
    to = to.lower()
    found = []
    for path, msg in read_maildir(maildir):
        if to not in _recipients(msg):
            continue
        if subject is not None and str(msg.get("Subject", "")) != subject:
            continue
        found.append(msg)
    return found


def wait_for_mail(to, subject=None, timeout=15.0):
    msgs = wait_for(lambda: find_mails(to, subject), timeout, desc=f"an email to {to} (subject {subject!r})")
    return msgs[0]


def text_body(msg):
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, f"the email has no text/plain part: {msg}"
    return part.get_content()


# --------------------------------------------------------------------------
# Redis / PostgreSQL bookkeeping: "a refused request enqueues and stores nothing"

INGEST = "herald:ingest"
INGEST_GROUP = "routers"


def redis_client():
    """A client of the stack's Redis (its AUTH password when it has one)."""
    import redis

    return redis.Redis(host=env("HERALD_REDIS_HOST"), port=int(env("HERALD_REDIS_PORT")),
                       password=os.environ.get("HERALD_REDIS_PASSWORD") or None,
                       decode_responses=True, socket_timeout=10)


def pg_connect():
    """An autocommit connection to the stack's database."""
    import psycopg2

    conn = psycopg2.connect(env("HERALD_PG_DSN"))
    conn.autocommit = True
    return conn


def ingest_marker(rds):
    """Something that changes whenever anything is XADDed to herald:ingest,
    even if the router trims the stream: (entries-added, last-generated-id)."""
    try:
        info = rds.xinfo_stream(INGEST)
    except Exception as e:  # the stream does not exist yet
        if "no such key" in str(e).lower():
            return (0, "0-0")
        raise
    return (info.get("entries-added"), info.get("last-generated-id"))


def notifications_count(db, environment_id):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM notifications WHERE environment_id = %s", (environment_id,))
        return cur.fetchone()[0]


# --------------------------------------------------------------------------
# Logs


def log_lines(name):
    """JSON lines of RUN/logs/<name>.log (other lines skipped)."""
    out = []
    try:
        with open(log_path(name), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def all_log_files():
    d = os.path.join(run_dir(), "logs")
    out = []
    for root, _dirs, files in os.walk(d):
        for f in files:
            out.append(os.path.join(root, f))
    return out


# --------------------------------------------------------------------------
# Processes


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        # ProcessLookupError: reaped between the open and the read
        return False
    # state is the field after the parenthesised command name; Z = zombie
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def children(pid):
    kids = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return kids
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                kids.update(int(x) for x in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {k for k in kids if pid_alive(k)}


# --------------------------------------------------------------------------
# A minimal FastCGI client, to reach herald-api without nginx in between.

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6
FCGI_RESPONDER = 1


def _fcgi_record(rtype, content, req_id=1):
    out = b""
    # a record carries at most 65535 bytes
    for i in range(0, max(len(content), 1), 65535):
        piece = content[i : i + 65535]
        out += struct.pack(">BBHHBx", 1, rtype, req_id, len(piece), 0) + piece
        if not content:
            break
    return out


def _fcgi_nv(name, value):
    def ln(n):
        return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)

    name, value = name.encode(), value.encode()
    return ln(len(name)) + ln(len(value)) + name + value


def fastcgi_request(sock_path, params, body=b"", timeout=10.0):
    """Sends one FastCGI request and returns (status, headers dict, body bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(_fcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", FCGI_RESPONDER, 0)))
        nv = b"".join(_fcgi_nv(k, v) for k, v in params.items())
        s.sendall(_fcgi_record(FCGI_PARAMS, nv) + _fcgi_record(FCGI_PARAMS, b""))
        try:
            step = 32768
            for i in range(0, len(body), step):
                s.sendall(_fcgi_record(FCGI_STDIN, body[i : i + step]))
            s.sendall(_fcgi_record(FCGI_STDIN, b""))
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            if _fcgi_ended(buf):
                break
    finally:
        s.close()
    stdout = b""
    pos = 0
    while pos + 8 <= len(buf):
        _v, rtype, _rid, clen, plen = struct.unpack(">BBHHBx", buf[pos : pos + 8])
        content = buf[pos + 8 : pos + 8 + clen]
        pos += 8 + clen + plen
        if rtype == FCGI_STDOUT:
            stdout += content
    head, _, payload = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, payload


def _fcgi_ended(buf):
    pos = 0
    while pos + 8 <= len(buf):
        _v, rtype, _rid, clen, plen = struct.unpack(">BBHHBx", buf[pos : pos + 8])
        if rtype == FCGI_END_REQUEST and pos + 8 + clen <= len(buf):
            return True
        pos += 8 + clen + plen
    return False


# --------------------------------------------------------------------------
# Dashboard members (accounts): sign-up and sessions

DEFAULT_PASSWORD = "correct horse battery staple"

# Every secret the tests were given (passwords, keys, tokens): test_security
# checks that none of them appears in any log.
SECRETS = set()


def remember_secrets(*values):
    for v in values:
        if isinstance(v, str) and len(v) >= 12:
            SECRETS.add(v)


class Member:
    """A member signed up through POST /v1/auth/signup: its tenant, the
    default project's environments and keys, and a session."""

    def __init__(self, email, password, doc):
        self.email = email
        self.password = password
        self.doc = doc
        self.id = doc["member"]["id"]
        self.tenant_id = doc["tenant_id"]
        self.project_id = doc["project_id"]
        envs = doc["environments"]
        self.dev_env = envs["development"]["id"]
        self.dev_key = envs["development"]["api_key"]
        self.prod_env = envs["production"]["id"]
        self.prod_key = envs["production"]["api_key"]
        self.access = doc["access_token"]
        self.refresh = doc["refresh_token"]

    def auth(self):
        return {"Authorization": f"Bearer {self.access}"}

    def __repr__(self):
        return f"<Member {self.email} {self.tenant_id}>"


def signup(email=None, password=DEFAULT_PASSWORD, name=None):
    email = email or unique_email("member-")
    r = api("POST", "/v1/auth/signup", body={"name": name or "Test " + email[:12], "email": email,
                                             "password": password})
    assert r.status == 201, r
    m = Member(email, password, r.json)
    remember_secrets(password, m.dev_key, m.prod_key, m.access, m.refresh)
    return m


def member_api(member, method, path, body=None, **kw):
    """api() with the member's access token."""
    headers = dict(kw.pop("headers", None) or {})
    headers["Authorization"] = f"Bearer {member.access}"
    return api(method, path, body=body, headers=headers, **kw)
