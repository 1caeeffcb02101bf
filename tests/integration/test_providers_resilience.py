"""Send machinery under a failing or slow provider: the circuit breaker opens
after N consecutive failures (deliveries wait as retrying, nothing reaches
the provider during the cool-down, 3 s in the test stack), one probe closes
it again; the bulkhead keeps a slow provider from starving another; the
per-provider send rate spreads a burst."""

import hashlib
import time

import herald_helpers as h
import provider_helpers as ph


def tg(tenant, fake, prefix, token, **settings):
    ph.put_integration(tenant.key, "telegram", "telegram", {"bot_token": token},
                       dict({"base_url": fake.url + prefix}, **settings))
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, telegram_chat_id="31337")
    return user


def gate_label(fake, prefix, token):
    """How the worker's logs name a Telegram bot's gate: the provider and a
    digest of the key (base URL and bot id), never the key itself."""
    key = f"telegram:{fake.url + prefix}/bot{token.split(':')[0]}"
    return "telegram#" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def breaker_events(label, what):
    return [l for l in h.log_lines("herald-worker-telegram")
            if l.get("msg") == f"circuit breaker {what}" and l.get("endpoint") == label]


def test_circuit_breaker_opens_waits_and_closes(tenant, provider_fake, db):
    prefix = provider_fake.prefix("cb")
    user = tg(tenant, provider_fake, prefix, "777:breaker")
    label = gate_label(provider_fake, prefix, "777:breaker")
    provider_fake.script(prefix, [], default={"status": 500, "json": {
        "ok": False, "error_code": 500, "description": "Internal Server Error"}})
    nids = [ph.send(tenant.key, user, ["telegram"], title=f"m{i}") for i in range(5)]
    h.wait_for(lambda: breaker_events(label, "opened"), 20, desc="the breaker to open")
    opened_at = time.time()
    n0 = len(provider_fake.requests(prefix))
    assert n0 >= 5
    # Cool-down: deliveries come back (retries are due in < 2 s) and wait as
    # retrying; the provider sees nothing.
    def waiting():
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM deliveries WHERE notification_id = ANY(%s::uuid[])"
                        " AND status = 'retrying' AND error = 'circuit_open'", (nids,))
            return cur.fetchone()[0]
    h.wait_for(waiting, 2.5, desc="a delivery postponed by the open breaker")
    time.sleep(max(0.0, opened_at + 2.2 - time.time()))
    assert len(provider_fake.requests(prefix)) == n0, "requests reached the provider while the breaker was open"
    for nid in nids:
        d = h.delivery(h.get_notification(tenant.key, nid).json, "telegram")
        assert d["status"] in ("retrying", "sending"), d
    # The provider recovers: after the cool-down one probe goes, succeeds,
    # the breaker closes and everything is sent.
    provider_fake.script(prefix, [])
    for nid in nids:
        ph.wait_delivery(tenant.key, nid, "telegram", "sent", timeout=30)
    reqs = provider_fake.requests(prefix)
    after = [r for r in reqs[n0:]]
    assert after and after[0]["time"] - opened_at >= 2.5, (after[0]["time"] - opened_at)
    assert breaker_events(label, "closed")
    # postponements are not attempts: every attempt row is a real request
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id"
                    " WHERE d.notification_id = ANY(%s::uuid[])", (nids,))
        assert cur.fetchone()[0] == len(reqs)


def test_bulkhead_slow_provider_does_not_starve_another(tenant_factory, provider_fake):
    slow_t, fast_t = tenant_factory(), tenant_factory()
    slow_p, fast_p = provider_fake.prefix("slow"), provider_fake.prefix("fast")
    slow_user = tg(slow_t, provider_fake, slow_p, "888:slow")
    fast_user = tg(fast_t, provider_fake, fast_p, "999:fast")
    provider_fake.script(slow_p, [], default={"status": 200, "delay_ms": 1500, "json": {
        "ok": True, "result": {"message_id": 1}}})
    t0 = time.time()
    slow = [ph.send(slow_t.key, slow_user, ["telegram"]) for _ in range(20)]
    time.sleep(0.3)
    fast = [ph.send(fast_t.key, fast_user, ["telegram"]) for _ in range(3)]
    for nid in fast:
        ph.wait_delivery(fast_t.key, nid, "telegram", "sent", timeout=10)
    fast_done = time.time()
    # the fast provider finished while the slow one still had work in flight
    pending = [nid for nid in slow
               if h.delivery(h.get_notification(slow_t.key, nid).json, "telegram")["status"] != "sent"]
    assert pending, "the slow provider finished before the fast one: no contention was tested"
    assert fast_done - t0 < 3.0, fast_done - t0
    for nid in slow:
        ph.wait_delivery(slow_t.key, nid, "telegram", "sent", timeout=30)
    reqs = provider_fake.requests(slow_p)
    first = reqs[0]["time"]
    in_first_window = [r for r in reqs if r["time"] - first < 1.2]
    assert len(in_first_window) <= 16, len(in_first_window)  # [worker] provider_max_inflight


def test_send_rate_spreads_a_burst(tenant, provider_fake):
    prefix = provider_fake.prefix("rate")
    user = tg(tenant, provider_fake, prefix, "555:rate", rate_per_s=5)
    nids = [ph.send(tenant.key, user, ["telegram"]) for _ in range(12)]
    for nid in nids:
        ph.wait_delivery(tenant.key, nid, "telegram", "sent", timeout=30)
    times = sorted(r["time"] for r in provider_fake.requests(prefix))
    assert len(times) == 12
    # a bucket of 5, then 5 per second: the last is at least ~1.2 s after the first
    assert times[-1] - times[0] >= 1.2, times[-1] - times[0]
    in_any_second = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert in_any_second <= 10, in_any_second
