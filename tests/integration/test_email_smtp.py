"""Email through the real SMTP server of the test stack (aiosmtpd): the stored
message is parsed and its MIME structure, headers and encodings checked —
multipart/alternative with a text and an HTML part, Message-ID (the delivery's
provider message id), Date, From/Reply-To, RFC 2047 encoded non-ASCII subject
and names, List-Unsubscribe. Also a per-environment SMTP integration."""

import email.utils
import os

import herald_helpers as h
import provider_helpers as ph


def raw_message(to):
    """The raw bytes of the stored message to `to`."""
    maildir = h.env("HERALD_SMTP_MAILDIR")
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            if to.encode() in data:
                return data
    return None


def test_mime_structure_headers_and_encodings(tenant, db):
    to = h.unique_email("mime")
    subject = "Größe ✓ — café order shipped"
    nid = ph.send(tenant.key, h.unique_user_id(), ["email"], title=subject, body="Ça marche: <ok> & ✓",
                  data={"order": 1234, "unsubscribe_url": "https://example.com/unsub?u=1"}, email=to)
    d = ph.wait_delivery(tenant.key, nid, "email", "sent")
    with db.cursor() as cur:  # the end of DATA was recorded as the point of no return
        cur.execute("SELECT handed_over_at IS NOT NULL FROM deliveries WHERE id = %s", (d["id"],))
        assert cur.fetchone()[0] is True
    msg = h.wait_for_mail(to)
    raw = raw_message(to)
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    # encoded words in the raw header, the decoded subject as sent
    assert b"=?UTF-8?B?" in head, head
    assert str(msg["Subject"]) == subject or subject in str(msg["Subject"]), msg["Subject"]
    assert msg["Message-ID"] == d["provider_message_id"], (msg["Message-ID"], d)
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Unsubscribe"] == "<https://example.com/unsub?u=1>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for p in parts:
        assert p.get_content_charset() == "utf-8"
        assert p["Content-Transfer-Encoding"] == "base64"
    text = parts[0].get_content()
    html = parts[1].get_content()
    assert "Ça marche: <ok> & ✓" in text
    assert "Ça marche: &lt;ok&gt; &amp; ✓" in html
    assert "1234" in text and "1234" in html


def test_smtp_integration_from_reply_to(tenant):
    smtp_port = h.env("HERALD_SMTP_PORT")
    ph.put_integration(tenant.key, "email", "smtp", {},
                       {"smtp_url": f"smtp://127.0.0.1:{smtp_port}",
                        "from": "Équipe Café <team@example.com>", "reply_to": "Support <help@example.com>"})
    to = h.unique_email("integ")
    nid = ph.send(tenant.key, h.unique_user_id(), ["email"], title="Plain subject", email=to)
    d = ph.wait_delivery(tenant.key, nid, "email", "sent")
    msg = h.wait_for_mail(to)
    raw = raw_message(to)
    assert b"From: =?UTF-8?B?" in raw, raw[:400]
    assert msg["From"].addresses[0].display_name == "Équipe Café"
    assert msg["From"].addresses[0].addr_spec == "team@example.com"
    assert msg["Reply-To"].addresses[0].addr_spec == "help@example.com"
    assert msg["Message-ID"] == d["provider_message_id"]
    assert msg["Message-ID"].endswith("@example.com>")


def test_credentials_never_go_in_clear(tenant):
    """With a user and password, STARTTLS is required: the test server offers
    none, so the send fails at once with the reason (no message, no retry)."""
    smtp_port = h.env("HERALD_SMTP_PORT")
    ph.put_integration(tenant.key, "email", "smtp", {"user": "mailer", "password": "pw-never-in-clear"},
                       {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "from": "team@example.com"})
    to = h.unique_email("tls")
    nid = ph.send(tenant.key, h.unique_user_id(), ["email"], title="Needs TLS", email=to)
    d = ph.wait_delivery(tenant.key, nid, "email", "failed")
    assert d["attempts"] == 1 and d["error"].startswith("tls_required:"), d
    assert not h.find_mails(to)
    r = h.api("PUT", "/v1/integrations/email", key=tenant.key, body={
        "provider": "smtp", "credentials": {"user": "u", "password": "p"},
        "settings": {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "from": "a@example.com", "tls": "never"}})
    h.assert_json_error(r, 422, "validation_failed", "settings.tls")


class _TlsServer:
    """An SMTP server of the test's own (aiosmtpd) with TLS — STARTTLS, or SMTPS
    from the first byte — that requires AUTH over TLS, signed by the stack's
    local CA (which the workers trust through [providers] ca_file)."""

    USER, PASSWORD = b"mailer", b"s3cret-over-tls"

    def __init__(self, implicit):
        import socket
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        tls = os.path.join(h.run_dir(), "tls")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(os.path.join(tls, "cert.pem"), os.path.join(tls, "key.pem"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.messages, self.logins = [], []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.messages.append((box.implicit or session.ssl is not None, envelope.rcpt_tos,
                                     envelope.content))
                return "250 2.0.0 stored"

        def authenticator(server, session, envelope, mechanism, data):
            ok = data.login == box.USER and data.password == box.PASSWORD
            box.logins.append((mechanism, ok, box.implicit or session.ssl is not None))
            return AuthResult(success=ok)

        # With implicit TLS the whole connection is TLS, but aiosmtpd only
        # knows a session is once STARTTLS ran: it must not hold AUTH back.
        kw = ({"ssl_context": ctx, "auth_require_tls": False} if implicit
              else {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True})
        self.implicit = implicit
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_required=True, **kw)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def test_starttls_and_smtps_with_authentication(tenant):
    """Credentials go over TLS only, to a server whose certificate is checked:
    STARTTLS on smtp:// and implicit TLS on smtps://, AUTH accepted."""
    for implicit, scheme in ((False, "smtp"), (True, "smtps")):
        server = _TlsServer(implicit)
        try:
            ph.put_integration(tenant.key, "email", "smtp",
                               {"user": server.USER.decode(), "password": server.PASSWORD.decode()},
                               {"smtp_url": f"{scheme}://127.0.0.1:{server.port}", "from": "team@example.com"})
            to = h.unique_email(scheme)
            nid = ph.send(tenant.key, h.unique_user_id(), ["email"], title=f"Over {scheme}", email=to)
            d = ph.wait_delivery(tenant.key, nid, "email", ("sent", "failed"), timeout=20)
            assert d["status"] == "sent", (scheme, d, server.logins)
            assert d["attempts"] == 1, d
            assert [(tls, rcpts) for tls, rcpts, _ in server.messages] == [(True, [to])], server.messages
            assert b"Subject: Over " + scheme.encode() in server.messages[0][2]
            assert server.logins and all(ok and tls for _, ok, tls in server.logins), server.logins
        finally:
            server.stop()


class _SlowServer:
    """An SMTP server of the test's own that takes `delay` seconds to answer
    the end of DATA (a busy MTA writing its queue, or a far one); it notes
    each message's arrival and whether it has answered yet."""

    def __init__(self, delay):
        import asyncio
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.arrived, self.replied = [], False
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.arrived.append(envelope.rcpt_tos)
                await asyncio.sleep(delay)
                box.replied = True
                return "250 2.0.0 stored, slowly"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def test_slow_smtp_server_does_not_hold_other_sends(tenant, tenant_factory):
    """libcurl waits for the reply to the end of DATA inside the transfer; the
    email worker runs each SMTP send in a lane of its own, so one tenant's slow
    server holds only its own message: another tenant's mail goes out while
    the slow reply is still awaited, and the slow message is sent once."""
    delay = 2.5  # under the test stack's [email] timeout_ms (3 s)
    slow = _SlowServer(delay)
    try:
        ph.put_integration(tenant.key, "email", "smtp", {},
                           {"smtp_url": f"smtp://127.0.0.1:{slow.port}", "from": "team@example.com"})
        slow_to = h.unique_email("slow")
        slow_nid = ph.send(tenant.key, h.unique_user_id(), ["email"], title="Slow one", email=slow_to)
        h.wait_for(lambda: slow.arrived, 20, desc="the slow server got the message")
        other = tenant_factory()
        fast = [(ph.send(other.key, h.unique_user_id(), ["email"], title=f"Fast {i}", email=to), to)
                for i, to in enumerate(h.unique_email(f"fast{i}") for i in range(3))]
        for nid, to in fast:
            ph.wait_delivery(other.key, nid, "email", "sent", timeout=delay)
        assert not slow.replied, "the other tenant's mail waited for the slow server's reply"
        for _, to in fast:
            assert h.wait_for_mail(to)
        d = ph.wait_delivery(tenant.key, slow_nid, "email", "sent", timeout=30)
        assert d["attempts"] == 1 and slow.arrived == [[slow_to]], (d, slow.arrived)
    finally:
        slow.stop()
