"""While notifications flow, each fault happens once; then every notification
answered 2xx is delivered exactly once (counted by id at the SMTP server, or
at the provider fake for webhooks)."""

import os
import signal
import time

import pytest

import faultlib as fl
import herald_helpers as h

TOTAL = int(os.environ.get("HERALD_FAULT_TOTAL", "1500"))
RATE = float(os.environ.get("HERALD_FAULT_RATE", "150"))
# Webhooks: a slow receiver (a send takes at least WEBHOOK_DELAY_MS) at a
# rate its endpoint's bulkhead ([worker] provider_max_inflight) can carry.
WEBHOOK_TOTAL = int(os.environ.get("HERALD_FAULT_WEBHOOK_TOTAL", "400"))
WEBHOOK_RATE = float(os.environ.get("HERALD_FAULT_WEBHOOK_RATE", "40"))
WEBHOOK_DELAY_MS = int(os.environ.get("HERALD_FAULT_WEBHOOK_DELAY_MS", "250"))


@pytest.fixture
def key():
    return h.create_tenant("fault").dev_key


def kill9(name):
    pid = h.read_pid(h.pid_path(name))
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_restarted(name, old_pid, timeout=30):
    def fresh():
        try:
            pid = h.read_pid(h.pid_path(name))
        except (FileNotFoundError, ValueError):
            return None
        return pid != old_pid and h.pid_alive(pid)
    h.wait_for(fresh, timeout, desc=f"{name} restarted")


def flow(key, during):
    load = fl.Load(key, TOTAL, RATE)
    load.start()
    load.wait_sent(0.3)
    during()
    load.join()
    return load


def test_kill_worker_mid_send(db, key):
    def during():
        for _ in range(3):  # several kills, each while sends are in flight
            old = kill9("herald-worker-email")
            wait_restarted("herald-worker-email", old)
            time.sleep(1.0)
    load = flow(key, during)
    fl.check_exactly_once(db, load)


def test_kill_webhook_worker_mid_send(db, key):
    """HTTP sends have a handover too: the webhook worker is killed several
    times while a slow receiver holds its requests. A request the receiver
    got whole is never sent again (the sweeper marks it sent, unconfirmed);
    one cut off before its last byte was never complete and is sent again.
    Counted at the receiver by notification id."""
    fake = fl.SlowProviderFake(WEBHOOK_DELAY_MS)
    try:
        prefix = fake.prefix("fault")
        r = h.api("POST", "/v1/webhook-endpoints", key=key,
                  body={"url": fake.url + prefix + "/hook", "description": "fault test"})
        assert r.status == 201, r
        load = fl.Load(key, WEBHOOK_TOTAL, WEBHOOK_RATE, channel="webhook")
        load.start()
        load.wait_sent(0.2)
        for _ in range(3):  # each while about rate x delay requests are in flight
            old = kill9("herald-worker-webhook")
            wait_restarted("herald-worker-webhook", old)
            time.sleep(1.5)
        load.join()
        counts = fl.check_exactly_once(db, load, counts=lambda: fl.webhook_counts(fake, prefix))
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM deliveries WHERE notification_id = ANY(%s::uuid[])"
                        " AND channel = 'webhook' AND error LIKE 'unconfirmed%%'",
                        (list(load.accepted),))
            unconfirmed = cur.fetchone()[0]
        print(f"received {len(counts)}, sent unconfirmed {unconfirmed}, "
              f"cut off mid-body {fake.incomplete()}")
        # The kills landed while the receiver held requests.
        assert unconfirmed > 0
    finally:
        fake.close()


def test_webhook_handover_not_recorded(db):
    """A handover PostgreSQL does not record (a trigger refuses it here, as an
    outage at that moment would) stops the request before its last byte: the
    receiver never gets that copy whole, and the delivery goes again, once."""
    t = h.create_tenant("fault")
    fake = fl.SlowProviderFake(0)
    name = f"fault_refuse_{t.dev_env.replace('-', '')[:12]}"
    refuse = 3  # the first handovers of this environment
    try:
        prefix = fake.prefix("refuse")
        r = h.api("POST", "/v1/webhook-endpoints", key=t.dev_key,
                  body={"url": fake.url + prefix + "/hook", "description": "fault test"})
        assert r.status == 201, r
        with db.cursor() as cur:
            # A sequence, not a table: nextval survives the rollback.
            cur.execute(f"CREATE SEQUENCE {name}")
            cur.execute(f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.handed_over_at IS NOT NULL AND OLD.handed_over_at IS NULL
                     AND NEW.environment_id = '{t.dev_env}' THEN
                    IF nextval('{name}') <= {refuse} THEN
                      RAISE EXCEPTION 'fault test: handover refused';
                    END IF;
                  END IF;
                  RETURN NEW;
                END $$""")
            cur.execute(f"CREATE TRIGGER {name} BEFORE UPDATE ON deliveries"
                        f" FOR EACH ROW EXECUTE FUNCTION {name}()")
        load = fl.Load(t.dev_key, 30, 10, channel="webhook")
        load.start()
        load.join()
        fl.check_exactly_once(db, load, timeout=120, counts=lambda: fl.webhook_counts(fake, prefix))
        with db.cursor() as cur:
            cur.execute(f"SELECT last_value FROM {name}")
            tried = cur.fetchone()[0]
        cut = fake.incomplete()
        print(f"handovers refused {refuse} (tried {tried}), cut off mid-body {cut}")
        assert tried > refuse and cut >= refuse, (tried, cut)
    finally:
        fake.close()
        with db.cursor() as cur:
            cur.execute(f"DROP TRIGGER IF EXISTS {name} ON deliveries")
            cur.execute(f"DROP FUNCTION IF EXISTS {name}()")
            cur.execute(f"DROP SEQUENCE IF EXISTS {name}")


def test_kill_router(db, key):
    def during():
        old = kill9("herald-router")
        wait_restarted("herald-router", old)
    load = flow(key, during)
    fl.check_exactly_once(db, load)


def test_router_gone_sweeper_stores_what_it_left(db, rds, key):
    """Every router is gone and one died holding entries it had read: the
    sweeper takes them over once they are idle long enough and stores them."""
    fl.herald("stop", "router")
    try:
        load = fl.Load(key, 300, 150)
        load.start()
        load.join()
        # A router that read the entries and died before storing them.
        got = rds.xreadgroup(h.INGEST_GROUP, "ghost-router", {h.INGEST: ">"}, count=100000)
        taken = sum(len(entries) for _, entries in got)
        assert taken >= len(load.accepted), (taken, len(load.accepted))
        fl.check_exactly_once(db, load, timeout=120)
        pending = rds.xpending(h.INGEST, h.INGEST_GROUP)
        assert pending["pending"] == 0, pending
    finally:
        fl.herald("start", "router")


def test_kill_api_child(db, key):
    def during():
        master = h.read_pid(h.pid_path("herald-api"))
        for child in sorted(h.children(master))[:2]:
            os.kill(child, signal.SIGKILL)
    load = flow(key, during)
    fl.check_exactly_once(db, load)


def test_restart_redis(db, key):
    def during():
        fl.herald("restart", "redis")
    load = flow(key, during)
    # Requests during the restart may be refused (503 queue_unavailable) —
    # those were not accepted; everything accepted must arrive.
    assert set(load.refused) <= {503}, load.refused
    fl.check_exactly_once(db, load)


def test_postgres_down_20s(db, key):
    # Warm every API child's key cache first: keys are looked up in PostgreSQL.
    for _ in range(40):
        assert h.api("GET", "/v1/notifications?limit=1", key=key).status == 200

    def during():
        fl.herald("stop", "pg")
        time.sleep(20)
        fl.herald("start", "pg")
    load = flow(key, during)
    # The API kept accepting while PostgreSQL was down.
    assert load.accepted and not load.refused, (len(load.accepted), load.refused)
    fl.check_exactly_once(db, load, timeout=240)


def test_smtp_defers_and_hangs_then_recovers(db, key):
    def during():
        fl.smtp_control("defer")      # 451 for every message
        time.sleep(4)
        fl.smtp_control("hang 15")    # no answer past Herald's timeout, nothing stored
        time.sleep(6)
        fl.smtp_control("ok")
    try:
        load = flow(key, during)
    finally:
        fl.smtp_control("ok")
    fl.check_exactly_once(db, load, timeout=240)


def test_smtp_rejects_permanently(db, key):
    """A permanent refusal fails at once, with its reason, and is not retried."""
    fl.smtp_control("reject")
    try:
        load = fl.Load(key, 50, 50)
        load.start()
        load.join()
        state = fl.settled(db, load.accepted.keys(), 60)
    finally:
        fl.smtp_control("ok")
    assert state and all(s[0] == "failed" and s[1] == 1 and "554" in (s[3] or "") for s in state.values()), \
        list(state.values())[:3]
    assert not fl.sink_counts(load.run)
