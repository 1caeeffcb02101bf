"""While notifications flow, each fault happens once; then every notification
answered 2xx is delivered exactly once (counted at the SMTP server by id)."""

import os
import signal
import time

import pytest

import faultlib as fl
import herald_helpers as h

TOTAL = int(os.environ.get("HERALD_FAULT_TOTAL", "1500"))
RATE = float(os.environ.get("HERALD_FAULT_RATE", "150"))


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


def test_kill_router(db, key):
    def during():
        old = kill9("herald-router")
        wait_restarted("herald-router", old)
    load = flow(key, during)
    fl.check_exactly_once(db, load)


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
