/* herald.js: Herald's browser client for in-app notifications. No dependencies.
 *
 *   const rt = new HeraldRealtime({ token: "<user token>" });   // or token: async () => fetchToken()
 *   rt.on("notification.created", (ev) => show(ev.item));
 *   rt.on("unread", (n) => badge(n));
 *   rt.on("resync", () => refetchInbox());
 *   rt.connect();
 *
 * It keeps one WebSocket to /v1/realtime (or an EventSource on /v1/stream with
 * transport: "sse"), reconnects with jittered exponential backoff, resumes from
 * the last event id it saw (so events sent while it was away are replayed), drops
 * duplicates, and tracks the user's unread count. Events: "connected",
 * "notification.created", "notification.read", "notification.unread",
 * "notification.archived", "notifications.read_all", "resync", "reconnect",
 * plus "event" (every event), "unread" (the count changed) and "state"
 * ("connecting", "open", "closed"). Also: rt.api(method, path, body) calls the
 * inbox API with the same token. */
(function (root) {
  "use strict";

  function parseId(id) {
    var m = /^(\d+)-(\d+)$/.exec(String(id || ""));
    return m ? [Number(m[1]), Number(m[2])] : null;
  }

  function idAfter(a, b) {
    // true when id a is newer than id b (b may be null)
    var x = parseId(a), y = parseId(b);
    if (!x) return false;
    if (!y) return true;
    return x[0] !== y[0] ? x[0] > y[0] : x[1] > y[1];
  }

  function HeraldRealtime(opts) {
    opts = opts || {};
    this.base = (opts.url || (root.location ? root.location.origin : "")).replace(/\/$/, "");
    this.token = opts.token;
    this.transport = opts.transport === "sse" ? "sse" : "websocket";
    this.minDelay = opts.minDelay || 500;
    this.maxDelay = opts.maxDelay || 15000;
    this.lastEventId = opts.lastEventId || null;
    this.unreadCount = null;
    this.state = "closed";
    this._handlers = {};
    this._attempt = 0;
    this._timer = null;
    this._conn = null;
    this._stopped = true;
    var self = this;
    if (root.addEventListener) {
      root.addEventListener("online", function () {
        if (!self._stopped && self.state !== "open") self._reconnectNow();
      });
    }
  }

  HeraldRealtime.prototype.on = function (type, fn) {
    (this._handlers[type] = this._handlers[type] || []).push(fn);
    return this;
  };

  HeraldRealtime.prototype.off = function (type, fn) {
    var list = this._handlers[type] || [];
    this._handlers[type] = list.filter(function (f) { return f !== fn; });
    return this;
  };

  HeraldRealtime.prototype._emit = function (type, arg) {
    var list = (this._handlers[type] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try { list[i](arg); } catch (e) { if (root.console) root.console.error(e); }
    }
  };

  HeraldRealtime.prototype._setState = function (s) {
    if (this.state === s) return;
    this.state = s;
    this._emit("state", s);
  };

  HeraldRealtime.prototype._getToken = function () {
    var t = this.token;
    return Promise.resolve(typeof t === "function" ? t() : t);
  };

  HeraldRealtime.prototype.connect = function () {
    this._stopped = false;
    this._open();
    return this;
  };

  HeraldRealtime.prototype.close = function () {
    this._stopped = true;
    clearTimeout(this._timer);
    this._drop();
    this._setState("closed");
  };

  HeraldRealtime.prototype._drop = function () {
    var c = this._conn;
    this._conn = null;
    if (c) {
      c.onopen = c.onmessage = c.onerror = c.onclose = null;
      try { c.close(); } catch (e) { /* already closed */ }
    }
  };

  HeraldRealtime.prototype._open = function () {
    var self = this;
    clearTimeout(this._timer);
    this._drop();
    this._setState("connecting");
    this._getToken().then(function (token) {
      if (self._stopped) return;
      var q = "?token=" + encodeURIComponent(token);
      if (self.lastEventId) q += "&last_event_id=" + encodeURIComponent(self.lastEventId);
      if (self.transport === "sse") self._openSse(q); else self._openWs(q);
    }, function () { self._retry(); });
  };

  HeraldRealtime.prototype._openWs = function (q) {
    var self = this;
    var url = this.base.replace(/^http/, "ws") + "/v1/realtime" + q;
    var ws = new root.WebSocket(url);
    this._conn = ws;
    ws.onmessage = function (m) { self._receive(m.data); };
    ws.onclose = function (ev) {
      if (self._conn !== ws) return;
      self._conn = null;
      // 1012: the gateway restarts; come back at once (another gateway may take us).
      self._retry(ev && ev.code === 1012);
    };
    ws.onerror = function () { /* onclose follows */ };
  };

  HeraldRealtime.prototype._openSse = function (q) {
    var self = this;
    var es = new root.EventSource(this.base + "/v1/stream" + q);
    this._conn = es;
    es.onmessage = function (m) { self._receive(m.data); };
    es.onerror = function () {
      // EventSource retries by itself, but with our token and resume point only
      // when we reopen it: take over.
      if (self._conn !== es) return;
      self._drop();
      self._retry(false);
    };
  };

  HeraldRealtime.prototype._retry = function (soon) {
    if (this._stopped) return;
    this._setState("connecting");
    var self = this;
    var exp = Math.min(this.maxDelay, this.minDelay * Math.pow(2, this._attempt++));
    var delay = soon ? 100 + Math.random() * 400 : exp / 2 + Math.random() * exp / 2;
    clearTimeout(this._timer);
    this._timer = setTimeout(function () { self._open(); }, delay);
  };

  HeraldRealtime.prototype._reconnectNow = function () {
    this._attempt = 0;
    this._open();
  };

  HeraldRealtime.prototype._receive = function (text) {
    var ev;
    try { ev = JSON.parse(text); } catch (e) { return; }
    if (!ev || typeof ev.type !== "string") return;
    if (ev.type === "connected") {
      this._attempt = 0;
      this._setState("open");
      if (ev.id && !this.lastEventId) this.lastEventId = ev.id;
    } else if (ev.id) {
      if (ev.type !== "resync" && !idAfter(ev.id, this.lastEventId)) return; // seen already
      this.lastEventId = ev.id;
    }
    if (typeof ev.unread_count === "number" && ev.unread_count !== this.unreadCount) {
      this.unreadCount = ev.unread_count;
      this._emit("unread", this.unreadCount);
    }
    this._emit(ev.type, ev);
    this._emit("event", ev);
    if (ev.type === "reconnect") {
      this._drop();
      this._retry(true);
    }
  };

  /* Calls the inbox API with the user token: rt.api("GET", "/v1/inbox?limit=20"). */
  HeraldRealtime.prototype.api = function (method, path, body) {
    var self = this;
    return this._getToken().then(function (token) {
      var init = { method: method, headers: { Authorization: "Bearer " + token } };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return root.fetch(self.base + path, init).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error((j && j.error && j.error.message) || ("HTTP " + r.status));
          return j;
        });
      });
    });
  };

  HeraldRealtime.idAfter = idAfter;
  root.HeraldRealtime = HeraldRealtime;
  if (typeof module === "object" && module.exports) module.exports = HeraldRealtime;
})(typeof window !== "undefined" ? window : this);
