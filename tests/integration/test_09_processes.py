"""Process behaviour: bad configuration stops a program at start with a
message naming the setting; the prefork master replaces a crashed child; the
supervisor restarts a crashed worker and nothing accepted is lost.

This module kills processes, so it runs last (file order)."""

import os
import signal
import subprocess
import tempfile
import time

import pytest

import herald_helpers as h
from herald_helpers import api, delivery, notification, unique_email, wait_for


def run_briefly(cmd, env, timeout=5.0):
    """Runs cmd, expecting it to exit by itself within timeout seconds. A
    program that keeps running is killed (with its process group) and the
    test fails."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    started = time.monotonic()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"{cmd} was still running after {timeout} s (it should refuse its configuration); "
                    f"stderr: {err[-2000:]}")
    return p.returncode, out, err, time.monotonic() - started


@pytest.fixture
def scratch():
    with tempfile.TemporaryDirectory(prefix="herald-itest-") as d:
        yield d


def clean_env(scratch, **extra):
    e = dict(os.environ)
    # never touch the running stack's socket, whatever happens
    e["HERALD_API_SOCKET"] = os.path.join(scratch, "api.sock")
    e.update(extra)
    return e


def test_bad_setting_in_environment_stops_the_api(scratch):
    code, _out, err, took = run_briefly(
        [h.bin_path("herald-api"), "-c", h.env("HERALD_CONFIG")],
        clean_env(scratch, HERALD_API_WORKERS="abc"),
    )
    assert code != 0, err
    assert took < 5
    assert "HERALD_API_WORKERS" in err or "workers" in err, f"stderr does not name the setting: {err!r}"
    assert not os.path.exists(os.path.join(scratch, "api.sock")), "the socket was created anyway"


def test_out_of_range_setting_stops_the_api(scratch):
    code, _out, err, _took = run_briefly(
        [h.bin_path("herald-api"), "-c", h.env("HERALD_CONFIG")],
        clean_env(scratch, HERALD_API_WORKERS="0"),
    )
    assert code != 0, err
    assert "HERALD_API_WORKERS" in err or "workers" in err, f"stderr does not name the setting: {err!r}"


def test_unknown_setting_in_config_file_stops_the_api(scratch):
    with open(h.env("HERALD_CONFIG")) as f:
        text = f.read()
    conf = os.path.join(scratch, "herald.conf")
    with open(conf, "w") as f:
        f.write(text + "\n[api]\nworkerz = 4\n")
    env = clean_env(scratch)
    env.pop("HERALD_API_WORKERS", None)
    code, _out, err, _took = run_briefly([h.bin_path("herald-api"), "-c", conf], env)
    assert code != 0, err
    assert "workerz" in err, f"stderr does not name the unknown setting: {err!r}"


def test_unknown_setting_stops_the_other_programs(scratch):
    conf = os.path.join(scratch, "herald.conf")
    with open(conf, "w") as f:
        f.write("[nosuch]\nthing = 1\n")
    for prog, args in (("herald-router", []), ("herald-worker", ["--channel", "email"]), ("herald-admin", ["migrate"])):
        path = h.bin_path(prog)
        assert os.access(path, os.X_OK), f"{path} is missing"
        code, _out, err, _took = run_briefly([path, "-c", conf] + args, clean_env(scratch))
        assert code != 0, (prog, err)
        assert "thing" in err or "nosuch" in err, f"{prog}: stderr does not name the setting: {err!r}"


def test_api_child_crash_is_replaced(tenant):
    master = h.read_pid(h.pid_path("herald-api"))
    assert h.pid_alive(master), f"herald-api master {master} is not running"
    before = wait_for(lambda: h.children(master), 5, desc=f"children of herald-api {master}")
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not h.pid_alive(victim), 5, desc=f"child {victim} to die")

    failures = []
    for i in range(50):
        r = api("POST", "/v1/notifications", body=notification(channels=["in_app"]), key=tenant.key)
        if r.status != 202:
            failures.append((i, r))
    assert not failures, f"{len(failures)} of 50 POSTs after the crash failed: {failures[:3]}"

    def replaced():
        now = h.children(master)
        return now if len(now) >= len(before) and victim not in now and now - before else None

    now = wait_for(replaced, 10, desc=f"a new child replacing {victim} (before: {sorted(before)})")
    assert h.pid_alive(master), "the master died"
    assert h.read_pid(h.pid_path("herald-api")) == master
    assert len(now) == len(before), (sorted(before), sorted(now))


def test_email_worker_crash_is_recovered(tenant):
    child_file = h.pid_path("herald-worker-email")
    victim = h.read_pid(child_file)
    assert h.pid_alive(victim), f"herald-worker email {victim} is not running"
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not h.pid_alive(victim), 5, desc=f"worker {victim} to die")

    to = unique_email()
    payload = notification(email=to, channels=["email"])
    r = api("POST", "/v1/notifications", body=payload, key=tenant.key)
    assert r.status == 202, r
    nid = r.json["id"]

    doc = h.wait_notification(tenant.key, nid, lambda d: (delivery(d, "email") or {}).get("status") == "sent",
                              timeout=30, desc="the email sent after the worker restarted")
    assert doc["status"] == "completed", doc
    h.wait_for_mail(to, payload["title"], timeout=10)
    time.sleep(0.3)
    assert len(h.find_mails(to)) == 1

    def restarted():
        try:
            pid = h.read_pid(child_file)
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid != victim and h.pid_alive(pid) else None

    wait_for(restarted, 10, desc=f"{child_file} to name the restarted worker")
