"""Helpers of the content tests (templates, branding, categories, events,
preferences): small wrappers over herald_helpers.api and readers of what the
SMTP server and the local sink received."""

import json
import os
import uuid

import herald_helpers as h


def key_name(prefix="evt"):
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def put_template(key, api_key, content, **extra):
    body = dict(content)
    body.update(extra)
    return h.api("PUT", f"/v1/templates/{key}", body=body, key=api_key)


def preview(key, api_key, **body):
    return h.api("POST", f"/v1/templates/{key}/preview", body=body, key=api_key)


def send_event(api_key, **body):
    r = h.api("POST", "/v1/events", body=body, key=api_key)
    assert r.status == 202, r
    return r.json["id"]


def settled(api_key, nid, channels, timeout=20.0):
    return h.wait_notification(api_key, nid, lambda d: h.all_settled(d, channels), timeout=timeout)


def html_body(msg):
    part = msg.get_body(preferencelist=("html",))
    assert part is not None, f"the email has no text/html part: {msg}"
    return part.get_content()


def sink_lines(channel):
    """JSON lines the local sink wrote for a channel (RUN/sink/<channel>.jsonl)."""
    path = os.path.join(h.run_dir(), "sink", f"{channel}.jsonl")
    out = []
    try:
        with open(path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def sink_line(channel, delivery_id, timeout=15.0):
    def find():
        for line in sink_lines(channel):
            if line.get("delivery_id") == delivery_id:
                return line
        return None

    return h.wait_for(find, timeout, desc=f"a {channel} sink line for {delivery_id}")
