// End-to-end browser test of Herald's in-app notifications: Debian's Chromium
// (headless, driven by playwright-core) opens the demo page (/demo/, which uses
// realtime/web/herald.js) in two tabs of one user, then
//   1. a notification sent through the API shows in both tabs;
//   2. marking it read in one tab drops the other tab's badge;
//   3. the gateway restarts: while it is down two more are sent, and both tabs
//      show them after they reconnect (resume from the last event id).
// Run by tests/integration/test_realtime_e2e.py with HERALD_BASE_URL,
// HERALD_E2E_KEY, HERALD_E2E_USER, HERALD_E2E_TOKEN and HERALD_SCRIPTS set.
"use strict";

const { chromium } = require("playwright-core");
const { execFileSync } = require("child_process");
const https = require("https");
const http = require("http");

const BASE = process.env.HERALD_BASE_URL;
const KEY = process.env.HERALD_E2E_KEY;
const USER = process.env.HERALD_E2E_USER;
const TOKEN = process.env.HERALD_E2E_TOKEN;
const SCRIPTS = process.env.HERALD_SCRIPTS;
const CHROMIUM = process.env.HERALD_CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 20000;

function log(msg) {
  process.stdout.write(`[e2e ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

function request(method, path, body, auth) {
  const url = new URL(path, BASE);
  const lib = url.protocol === "https:" ? https : http;
  const data = body === undefined ? null : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method,
      rejectUnauthorized: false, // the stack's own local CA
      headers: Object.assign({ Authorization: `Bearer ${auth}` },
        data ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } : {}),
    }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        try { resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null }); }
        catch (e) { reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`)); }
      });
    });
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

async function send(title) {
  const r = await request("POST", "/v1/notifications",
    { user: { id: USER }, type: "e2e.test", title, body: "from the e2e test", channels: ["in_app"] }, KEY);
  if (r.status !== 202) throw new Error(`send: ${r.status} ${JSON.stringify(r.json)}`);
}

async function waitFor(what, fn, ms = STEP_MS) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function herald(...args) {
  execFileSync(SCRIPTS, args, { stdio: ["ignore", "inherit", "inherit"], env: process.env });
}

async function main() {
  const t0 = Date.now();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  let ok = false;
  try {
    // Two tabs of one user, each in its own context (like two windows).
    const tabs = [];
    for (const name of ["A", "B"]) {
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await ctx.newPage();
      page.on("console", (m) => { if (m.type() === "error") log(`tab ${name} console: ${m.text()}`); });
      await page.goto(`${BASE}/demo/?token=${encodeURIComponent(TOKEN)}`);
      await page.waitForSelector('body[data-state="open"]', { timeout: STEP_MS });
      tabs.push({ name, page });
    }
    log(`two tabs open (${Date.now() - t0} ms)`);

    const first = `First ${Date.now()}`;
    await send(first);
    for (const t of tabs) {
      await t.page.waitForSelector(`li.unread:has-text("${first}")`, { timeout: STEP_MS });
      await t.page.waitForSelector('#badge[data-count="1"]', { state: "attached", timeout: STEP_MS });
    }
    log("1. the notification shows in both tabs, badge 1");

    await tabs[0].page.click(`li:has-text("${first}") button.mark-read`);
    await tabs[1].page.waitForSelector('#badge[data-count="0"]', { state: "attached", timeout: STEP_MS });
    await tabs[1].page.waitForSelector(`li.read:has-text("${first}")`, { timeout: STEP_MS });
    log("2. marked read in tab A: tab B's badge dropped to 0");

    herald("stop", "realtime");
    for (const t of tabs)
      await t.page.waitForSelector('body[data-state="connecting"]', { timeout: STEP_MS });
    const more = [`Second ${Date.now()}`, `Third ${Date.now()}`];
    for (const m of more) await send(m);
    await waitFor("the two new items stored", async () => {
      const r = await request("GET", "/v1/inbox/unread-count", undefined, TOKEN);
      return r.status === 200 && r.json.unread_count === 2;
    });
    herald("start", "realtime");
    for (const t of tabs) {
      await t.page.waitForSelector('body[data-state="open"]', { timeout: 30000 });
      for (const m of more)
        await t.page.waitForSelector(`li.unread:has-text("${m}")`, { timeout: STEP_MS });
      await t.page.waitForSelector('#badge[data-count="2"]', { state: "attached", timeout: STEP_MS });
    }
    log("3. gateway restarted: both tabs reconnected and show the two sent meanwhile");
    ok = true;
  } finally {
    await browser.close();
  }
  log(`passed in ${Date.now() - t0} ms`);
  return ok;
}

main().then((ok) => process.exit(ok ? 0 : 1), (e) => {
  console.error(`[e2e] FAILED: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
