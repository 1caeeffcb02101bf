"""Helpers of the channel/provider tests: the loopback provider fake
(tests/fakes/provider_fake.py), integrations, stored user addresses, webhook
endpoints, and waiting for a delivery's state."""

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import herald_helpers as h

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes", "provider_fake.py")


class ProviderFake:
    """A running provider_fake.py: scripts answers and reads what it got."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", FAKE, "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline().strip()
        assert line.startswith("PORT "), f"provider fake did not start: {line!r}"
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def prefix(self, name="p"):
        """A fresh path prefix, so each test has its own provider."""
        return f"/{name}-{uuid.uuid4().hex[:10]}"

    def script(self, prefix, responses, default=None):
        self._call("POST", "/_fake/script", {"prefix": prefix, "responses": responses, "default": default})

    def requests(self, prefix):
        return self._call("GET", "/_fake/requests?prefix=" + prefix)

    def wait_requests(self, prefix, n, timeout=15.0):
        return h.wait_for(lambda: (lambda rs: rs if len(rs) >= n else None)(self.requests(prefix)),
                          timeout, desc=f"{n} request(s) under {prefix}")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def put_integration(key, channel, provider, credentials, settings=None):
    body = {"provider": provider, "credentials": credentials, "settings": settings or {}}
    r = h.api("PUT", f"/v1/integrations/{channel}", body=body, key=key)
    assert r.status in (200, 201), r
    return r.json


def put_user(key, user_id, **addresses):
    r = h.api("PUT", f"/v1/users/{user_id}", body=addresses, key=key)
    assert r.status == 200, r
    return r.json


def send(key, user_id, channels, title="Hello", body="World", data=None, **user_fields):
    payload = {
        "user": dict({"id": user_id}, **user_fields),
        "type": "order.shipped",
        "title": title,
        "body": body,
        "data": data if data is not None else {"order": 1234},
        "channels": channels,
    }
    r = h.post_notification(key, payload)
    assert r.status == 202, r
    return r.json["id"]


def wait_delivery(key, nid, channel, states, timeout=20.0):
    """Waits until the channel's delivery is in one of states; returns it."""
    states = {states} if isinstance(states, str) else set(states)

    def done(doc):
        d = h.delivery(doc, channel)
        return d is not None and d["status"] in states

    doc = h.wait_notification(key, nid, done, timeout=timeout, desc=f"{channel} delivery in {sorted(states)}")
    return h.delivery(doc, channel)


def attempts(db, delivery_id):
    with db.cursor() as cur:
        cur.execute(
            "SELECT attempt, response_code, outcome, error, response_excerpt, duration_ms"
            " FROM attempts WHERE delivery_id = %s ORDER BY attempt",
            (delivery_id,),
        )
        cols = ["attempt", "response_code", "outcome", "error", "response_excerpt", "duration_ms"]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


def delivery_row(db, delivery_id):
    with db.cursor() as cur:
        cur.execute(
            "SELECT status, attempts, error, provider_message_id,"
            " extract(epoch FROM next_attempt_at - updated_at) FROM deliveries WHERE id = %s",
            (delivery_id,),
        )
        row = cur.fetchone()
        return dict(zip(["status", "attempts", "error", "provider_message_id", "retry_in_s"], row))
