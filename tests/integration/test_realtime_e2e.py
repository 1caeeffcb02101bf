"""The browser end-to-end test of the realtime inbox (tests/e2e/realtime.e2e.js):
Debian's Chromium, headless, driven by playwright-core, on the demo page. Two
tabs of one user see a notification; a read in one drops the other's badge;
after a gateway restart both get what was sent meanwhile. `scripts/herald deps`
installs chromium (apt) and playwright-core (npm, tests/e2e)."""

import os
import shutil
import subprocess
import uuid

import herald_helpers as h

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
E2E = os.path.join(ROOT, "tests", "e2e")
CHROMIUM = os.environ.get("HERALD_CHROMIUM", "/usr/bin/chromium")


def test_browser_two_tabs_live_inbox(tenant):
    node = shutil.which("node")
    assert node, "node is missing: run scripts/herald deps"
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run scripts/herald deps (apt chromium)"
    assert os.path.isdir(os.path.join(E2E, "node_modules", "playwright-core")), \
        "playwright-core is missing: run scripts/herald deps (npm install in tests/e2e)"
    user = "e2e-" + uuid.uuid4().hex[:10]
    r = h.api("POST", f"/v1/users/{user}/token", body={"ttl": 3600}, key=tenant.key)
    assert r.status == 200, r
    h.remember_secrets(r.json["token"])  # in ?token= of the browser's connections
    env = dict(os.environ)
    env.update({"HERALD_E2E_KEY": tenant.key, "HERALD_E2E_USER": user,
                "HERALD_E2E_TOKEN": r.json["token"], "HERALD_CHROMIUM": CHROMIUM})
    env.setdefault("HERALD_SCRIPTS", os.path.join(ROOT, "scripts", "herald"))
    p = subprocess.run([node, os.path.join(E2E, "realtime.e2e.js")], cwd=E2E, env=env,
                       capture_output=True, text=True, timeout=240)
    print(p.stdout)
    print(p.stderr)
    assert p.returncode == 0, f"browser test failed:\n{p.stdout}\n{p.stderr}"
