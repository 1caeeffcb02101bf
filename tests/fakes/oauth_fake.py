"""A loopback fake of the GitHub and Google OAuth endpoints (authorization-code
flow), for the integration tests. Standard library only.

    fake = OAuthFake(); fake.start()          # 127.0.0.1:<free port>
    fake.add_user("github", code, id=..., email=..., verified=True, name=...)
    fake.url("/github/authorize") ...
    fake.stop()

Endpoints (per provider prefix /github or /google):
  GET  /<p>/authorize?redirect_uri=&state=&client_id=   302 to redirect_uri?code=<next code>&state=
  POST /<p>/token         form: grant_type, code, redirect_uri, client_id, client_secret
                          -> {"access_token", "token_type": "bearer"}; 401 if anything is off
  GET  /github/user, /github/user/emails, /google/userinfo   (Bearer access token)
Every request is recorded in .requests as (method, path, headers dict, body str).
"""

import http.server
import json
import secrets
import threading
import urllib.parse

CLIENT_ID = "herald-test-client"
CLIENT_SECRET = "fake-oauth-client-secret-" + secrets.token_hex(8)


class OAuthFake:
    def __init__(self, client_id=CLIENT_ID, client_secret=CLIENT_SECRET):
        self.client_id = client_id
        self.client_secret = client_secret
        self.codes = {}  # code -> (provider, user dict, redirect_uri or None)
        self.tokens = {}  # access token -> (provider, user dict)
        self.next_user = {}  # provider -> user dict handed out by /authorize
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    # -- set-up ---------------------------------------------------------------
    def add_code(self, provider, user, code=None):
        """A code the token endpoint will accept once, for user
        ({"id"|"sub", "email", "verified", "name"})."""
        code = code or "code-" + secrets.token_hex(12)
        with self.lock:
            self.codes[code] = (provider, dict(user), None)
        return code

    def set_next_user(self, provider, user):
        """The user whom the next /authorize of provider signs in."""
        with self.lock:
            self.next_user[provider] = dict(user)

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def port(self):
        return self.server.server_address[1]

    def start(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n).decode() if n else ""

            def _json(self, status, doc):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body=""):
                with fake.lock:
                    fake.requests.append((self.command, self.path, dict(self.headers), body))

            def _bearer_user(self, provider):
                auth = self.headers.get("Authorization") or ""
                if not auth.startswith("Bearer "):
                    return None
                with fake.lock:
                    got = fake.tokens.get(auth[7:])
                if got is None or got[0] != provider:
                    return None
                return got[1]

            def do_GET(self):
                self._record()
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                parts = u.path.strip("/").split("/")
                provider = parts[0] if parts else ""
                rest = "/".join(parts[1:])
                if rest == "authorize":
                    if q.get("client_id") != fake.client_id or not q.get("redirect_uri"):
                        return self._json(400, {"error": "invalid_request"})
                    with fake.lock:
                        user = fake.next_user.get(provider)
                    if user is None:
                        loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                            {"error": "access_denied", "state": q.get("state", "")})
                    else:
                        code = "code-" + secrets.token_hex(12)
                        with fake.lock:
                            fake.codes[code] = (provider, user, q["redirect_uri"])
                        loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                            {"code": code, "state": q.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", loc)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                user = self._bearer_user(provider)
                if user is None:
                    return self._json(401, {"message": "Bad credentials"})
                if provider == "github" and rest == "user":
                    return self._json(200, {"id": int(user["id"]), "login": user.get("login", "octo"),
                                            "name": user.get("name"), "email": None})
                if provider == "github" and rest == "user/emails":
                    return self._json(200, [
                        {"email": "other-" + user["email"], "primary": False, "verified": True},
                        {"email": user["email"], "primary": True, "verified": bool(user.get("verified"))},
                    ])
                if provider == "google" and rest == "userinfo":
                    return self._json(200, {"sub": str(user["id"]), "email": user["email"],
                                            "email_verified": bool(user.get("verified")),
                                            "name": user.get("name")})
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                body = self._body()
                self._record(body)
                u = urllib.parse.urlsplit(self.path)
                parts = u.path.strip("/").split("/")
                if len(parts) != 2 or parts[1] != "token":
                    return self._json(404, {"error": "not_found"})
                provider = parts[0]
                f = dict(urllib.parse.parse_qsl(body))
                if (f.get("grant_type") != "authorization_code" or f.get("client_id") != fake.client_id
                        or f.get("client_secret") != fake.client_secret):
                    return self._json(401, {"error": "invalid_client"})
                with fake.lock:
                    got = fake.codes.pop(f.get("code", ""), None)
                if got is None or got[0] != provider or (got[2] is not None and got[2] != f.get("redirect_uri")):
                    return self._json(400, {"error": "invalid_grant"})
                token = "gho_" + secrets.token_hex(16)
                with fake.lock:
                    fake.tokens[token] = (provider, got[1])
                return self._json(200, {"access_token": token, "token_type": "bearer", "scope": "user:email"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
