"""Load generation and exactly-once accounting for the fault tests."""

import http.client
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid

import psycopg2

import herald_helpers as h
import provider_helpers as ph


class Load:
    """Sends notifications (one on channel each, email by default) from a few
    threads at a steady rate, keeping the id of every one answered 2xx."""

    def __init__(self, key, total, rate, threads=4, channel="email"):
        self.key, self.total, self.rate, self.threads = key, total, rate, threads
        self.channel = channel
        self.run = uuid.uuid4().hex[:10]
        self.accepted = {}      # notification id -> index
        self.refused = {}       # status -> count (5xx while a part is down, …)
        self.errors = 0         # no answer at all (connection reset, …)
        self.sent = 0
        self.lock = threading.Lock()
        self._next = 0
        self._workers = []

    def _take(self):
        with self.lock:
            if self._next >= self.total:
                return None
            self._next += 1
            return self._next - 1

    def _conn(self):
        u = urllib.parse.urlsplit(h.env("HERALD_BASE_URL"))
        if u.scheme == "https":
            import ssl

            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(u.hostname, u.port, timeout=15, context=ctx)
        return http.client.HTTPConnection(u.hostname, u.port, timeout=15)

    def _worker(self):
        conn = self._conn()
        interval = self.threads / self.rate
        next_at = time.monotonic()
        while True:
            i = self._take()
            if i is None:
                break
            body = json.dumps({
                "user": {"id": f"f-{self.run}-{i}", "email": f"f{i}-{self.run}@example.com"},
                "type": "fault.test", "title": f"fault {self.run} {i}", "body": "x",
                "channels": [self.channel],
            })
            try:
                conn.request("POST", "/v1/notifications", body=body, headers={
                    "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
                with self.lock:
                    self.sent += 1
                    if resp.status in (200, 202):
                        self.accepted[json.loads(payload)["id"]] = i
                    else:
                        self.refused[resp.status] = self.refused.get(resp.status, 0) + 1
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.errors += 1
                conn.close()
                conn = self._conn()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        conn.close()

    def start(self):
        for _ in range(self.threads):
            t = threading.Thread(target=self._worker, daemon=True)
            t.start()
            self._workers.append(t)

    def progress(self):
        with self.lock:
            return self.sent + self.errors

    def wait_sent(self, fraction, timeout=120):
        h.wait_for(lambda: self.progress() >= self.total * fraction, timeout,
                   desc=f"{fraction:.0%} of {self.total} requests sent")

    def join(self, timeout=300):
        for t in self._workers:
            t.join(timeout)


def sink_counts(run):
    """Notification id -> number of messages of this run in the SMTP Maildir
    (read from the X-Herald-Notification-Id header, headers only)."""
    counts = {}
    maildir = h.env("HERALD_SMTP_MAILDIR")
    marker = f"fault {run} ".encode()
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for name in os.listdir(d):
            try:
                with open(os.path.join(d, name), "rb") as f:
                    head = f.read(4096).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            except FileNotFoundError:
                continue
            if marker not in head and b"=?" not in head:
                continue
            nid = None
            for line in head.splitlines():
                if line.lower().startswith(b"x-herald-notification-id:"):
                    nid = line.split(b":", 1)[1].strip().decode()
            if nid is not None and marker in head:
                counts[nid] = counts.get(nid, 0) + 1
    return counts


def settled(db, ids, timeout, channel="email"):
    """Waits until every notification in ids is stored and its delivery on
    channel is sent or failed; returns {id: (status, attempts,
    sent_attempt_rows, error)}."""
    ids = list(ids)
    state = {}

    def poll():
        nonlocal state
        # A fresh connection each time: PostgreSQL may have restarted under us.
        try:
            conn = psycopg2.connect(h.env("HERALD_PG_DSN"))
        except psycopg2.OperationalError:
            return None
        conn.autocommit = True
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT d.notification_id::text, d.status, d.attempts,"
                " (SELECT count(*) FROM attempts a WHERE a.delivery_id = d.id AND a.outcome = 'sent'),"
                " d.error"
                " FROM deliveries d WHERE d.notification_id = ANY(%s::uuid[]) AND d.channel = %s",
                (ids, channel))
            state = {r[0]: r[1:] for r in cur.fetchall()}
        conn.close()
        pending = [i for i in ids if i not in state or state[i][0] not in ("sent", "failed")]
        return not pending or None

    try:
        h.wait_for(poll, timeout, interval=0.5, desc=f"{len(ids)} notifications settled")
    except AssertionError:
        pending = [i for i in ids if i not in state or state[i][0] not in ("sent", "failed")]
        raise AssertionError(f"{len(pending)} of {len(ids)} never settled; e.g. "
                             f"{[(i, state.get(i)) for i in pending[:5]]}")
    return state


def check_exactly_once(db, load, timeout=180, allow_failed=False, counts=None):
    """Every accepted notification was delivered exactly once (or, with
    allow_failed, failed with a reason), the sink agrees with the database,
    and nothing unaccepted shows up more than once. counts() gives the
    notification id -> copies received (default: the SMTP sink's)."""
    state = settled(db, load.accepted.keys(), timeout, load.channel)
    # A moment for a message in flight to land after its row says sent.
    time.sleep(0.5)
    counts = counts() if counts is not None else sink_counts(load.run)
    missing = [i for i, s in state.items() if s[0] == "sent" and counts.get(i, 0) == 0]
    dups = {i: n for i, n in counts.items() if n > 1}
    failed = {i: s for i, s in state.items() if s[0] == "failed"}
    sent_but_not_recorded = [i for i in counts if i in state and state[i][0] != "sent"]
    wrong_rows = [i for i, s in state.items() if s[0] == "sent" and s[2] != 1]
    report = (f"accepted {len(load.accepted)}, refused {load.refused}, no answer {load.errors}, "
              f"sink {len(counts)}, missing {len(missing)}, duplicates {len(dups)}, "
              f"failed {len(failed)}")
    print(report)
    assert not dups, f"{report}; duplicated at the sink: {list(dups.items())[:5]}"
    assert not missing, f"{report}; recorded sent but not at the sink: {missing[:5]}"
    assert not sent_but_not_recorded, f"{report}; at the sink but not recorded sent: {sent_but_not_recorded[:5]}"
    assert not wrong_rows, f"{report}; sent deliveries without exactly one 'sent' attempt row: {wrong_rows[:5]}"
    if not allow_failed:
        assert not failed, f"{report}; failed: {list(failed.items())[:5]}"
    else:
        assert all(s[3] for s in failed.values()), "a failed delivery has no error"
    # Every accepted notification is in the database (none lost in the log).
    assert set(state) == set(load.accepted), f"{report}; not stored: {len(set(load.accepted) - set(state))}"
    return counts


class SlowProviderFake(ph.ProviderFake):
    """The provider fake (tests/fakes/provider_fake.py) answering every
    request delay_ms after it arrived whole: requests stay in flight long
    enough for a kill to land while the provider holds them."""

    def __init__(self, delay_ms):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", ph.FAKE, "0", "--delay-ms", str(delay_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("PORT "), f"provider fake did not start: {line!r}"
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def incomplete(self):
        """Requests cut off mid-body (never complete at the provider)."""
        return self._call("GET", "/_fake/incomplete")["count"]


def webhook_counts(fake, prefix):
    """Notification id -> webhook requests received whole under prefix (one
    endpoint: one delivery per notification)."""
    counts = {}
    for rq in fake.requests(prefix):
        doc = json.loads(rq["body"])
        assert rq["headers"].get("webhook-id") == doc["id"], rq["headers"]
        nid = doc["data"]["notification_id"]
        counts[nid] = counts.get(nid, 0) + 1
    return counts


def herald(*args):
    subprocess.run([h.env("HERALD_SCRIPTS"), *args], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)


def smtp_control(mode):
    path = os.path.join(os.path.dirname(h.env("HERALD_SMTP_MAILDIR").rstrip("/")), "smtp-control")
    with open(path + ".tmp", "w") as f:
        f.write(mode)
    os.replace(path + ".tmp", path)
