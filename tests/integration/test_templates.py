"""Templates: versions (save, publish, roll back, list with who and when),
bad templates refused with 422 and their line and column, preview, test
sends (preview equals what the SMTP server receives), rendering in the
worker, and locale fallback."""

import time

import herald_helpers as h
from content_helpers import html_body, key_name, preview, put_template, send_event, settled

EMAIL_V1 = {
    "channels": {
        "email": {
            "subject": "v1: {{title}} for {{user.id}}",
            "html": "<h1>{{title}}</h1><p>Order {{order}} &amp; {{data.tag}}</p>",
            "text": "v1 {{title}} / order {{order}}",
        },
        "sms": {"text": "SMS {{title}} #{{order}}"},
        "in_app": {"title": "In-app {{title}}", "body": "{{body}} ({{order}})", "action_url": "https://app.example/o/{{order}}"},
    },
    "sample": {"title": "Sample title", "data": {"order": 7, "tag": "s"}},
}

EMAIL_V2 = {
    "channels": {
        "email": {"subject": "v2: {{title}}", "text": "v2 text {{title}}"},
    }
}


def test_save_versions_publish_and_roll_back(tenant):
    key = key_name("order")
    r = put_template(key, tenant.key, EMAIL_V1)
    assert r.status == 201, r
    assert r.json["version"] == 1 and r.json["published_version"] == 1, r
    assert r.json["created_by"].startswith("api_key"), r
    h.TS_RE.match(r.json["created_at"])

    r = put_template(key, tenant.key, EMAIL_V2, author="ada@example.com")
    assert r.status == 201, r
    assert r.json["version"] == 2 and r.json["published_version"] == 2, r
    assert r.json["created_by"].startswith("ada@example.com"), r

    # a draft: saved, not published
    r = put_template(key, tenant.key, EMAIL_V2, publish=False)
    assert r.status == 201 and r.json["version"] == 3 and r.json["published_version"] == 2, r

    r = h.api("GET", f"/v1/templates/{key}", key=tenant.key)
    assert r.status == 200, r
    assert r.json["version"] == 2 and r.json["published"] is True, r
    assert r.json["content"]["channels"]["email"]["subject"] == "v2: {{title}}", r

    r = h.api("GET", f"/v1/templates/{key}/versions", key=tenant.key)
    assert r.status == 200, r
    versions = r.json["data"]
    assert [v["version"] for v in versions] == [3, 2, 1], versions
    assert [v["published"] for v in versions] == [False, True, False], versions
    for v in versions:
        assert v["created_by"] and h.TS_RE.match(v["created_at"]), v

    r = h.api("GET", f"/v1/templates/{key}/versions/1", key=tenant.key)
    assert r.status == 200 and r.json["content"]["channels"]["sms"]["text"].startswith("SMS"), r
    assert h.api("GET", f"/v1/templates/{key}/versions/9", key=tenant.key).status == 404

    p = preview(key, tenant.key, channel="email", title="T")
    assert p.status == 200 and p.json["subject"] == "v2: T" and p.json["version"] == 2, p

    # roll back to version 1
    r = h.api("POST", f"/v1/templates/{key}/rollback", body={"version": 1}, key=tenant.key)
    assert r.status == 200 and r.json["published_version"] == 1, r
    p = preview(key, tenant.key, channel="email", title="T", data={"order": 9})
    assert p.status == 200 and p.json["subject"] == "v1: T for " and p.json["version"] == 1, p
    assert p.json["text"] == "v1 T / order 9", p

    r = h.api("POST", f"/v1/templates/{key}/publish", body={"version": 42}, key=tenant.key)
    h.assert_json_error(r, 422, "validation_failed", "version")
    r = h.api("POST", "/v1/templates/nope.nope/publish", body={"version": 1}, key=tenant.key)
    h.assert_json_error(r, 404, "not_found")

    r = h.api("GET", "/v1/templates", key=tenant.key)
    assert any(t["key"] == key and t["latest_version"] == 3 for t in r.json["data"]), r

    # another environment sees none of it
    assert h.api("GET", f"/v1/templates/{key}", key=tenant.prod_key).status == 404


def test_bad_templates_are_refused_with_their_position(tenant, db):
    key = key_name("bad")
    r = put_template(key, tenant.key, {"channels": {"email": {"html": "<p>\n  <b>{{#items}}{{name}}</b>\n</p>"}}})
    err = h.assert_json_error(r, 422, "validation_failed", "channels.email.html")
    assert err["line"] == 2 and err["column"] == 6, err
    assert "line 2, column 6" in err["message"], err

    r = put_template(key, tenant.key, {"locales": {"fr": {"sms": {"text": "ok {{/x}}"}}}})
    err = h.assert_json_error(r, 422, "validation_failed", "locales.fr.sms.text")
    assert (err["line"], err["column"]) == (1, 4), err

    r = put_template(key, tenant.key, {"channels": {"email": {"subject": "{{=<% %>=}} <% x"}}})
    err = h.assert_json_error(r, 422, "validation_failed", "channels.email.subject")
    assert err["line"] == 1, err

    for content, field in [
        ({"channels": {"fax": {"text": "x"}}}, "channels.fax"),
        ({"channels": {"sms": {"html": "x"}}}, "channels.sms.html"),
        ({"locales": {"english please": {}}}, "locales.english please"),
        ({"channels": {}, "colour": "red"}, "colour"),
        ({"sample": {}}, "channels"),
    ]:
        h.assert_json_error(put_template(key, tenant.key, content), 422, "validation_failed", field)
    h.assert_json_error(put_template("Not.A.Key", tenant.key, EMAIL_V2), 422, "validation_failed", "key")
    r = h.api("PUT", f"/v1/templates/{key}", raw="{nope", key=tenant.key)
    h.assert_json_error(r, 400, "invalid_json")
    # nothing was stored by any refusal
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM template_versions WHERE key = %s", (key,))
        assert cur.fetchone()[0] == 0

    # an unsaved draft in a preview is checked the same way
    r = preview(key, tenant.key, channel="email", template={"channels": {"email": {"text": "{{#a}}"}}})
    err = h.assert_json_error(r, 422, "validation_failed", "template.channels.email.text")
    assert err["line"] == 1 and err["column"] == 1, err


def test_preview_equals_what_the_smtp_server_receives(tenant):
    key = key_name("receipt")
    assert put_template(key, tenant.key, EMAIL_V1).status == 201
    assert h.api("PUT", "/v1/branding", body={"company_name": "Acme <Shop>", "primary_color": "#112233"}, key=tenant.key).status == 200
    body = {"channel": "email", "title": "Thanks & welcome", "data": {"order": 77, "tag": "<t>"},
            "user": {"id": "preview-user"}}
    p = preview(key, tenant.key, **body)
    assert p.status == 200, p
    assert p.json["subject"] == "v1: Thanks & welcome for preview-user", p
    assert p.json["html"] == "<h1>Thanks &amp; welcome</h1><p>Order 77 &amp; &lt;t&gt;</p>", p
    assert p.json["text"] == "v1 Thanks & welcome / order 77", p

    to = h.unique_email("tpl")
    body = dict(body)
    body.pop("user")
    r = h.api("POST", f"/v1/templates/{key}/test", body=dict(body, to=to), key=tenant.key)
    assert r.status == 202, r
    settled(tenant.key, r.json["id"], ["email"])
    msg = h.wait_for_mail(to)
    # the test send has no user: {{user.id}} is empty, so compare with that preview
    p = preview(key, tenant.key, channel="email", title="Thanks & welcome", data={"order": 77, "tag": "<t>"})
    assert str(msg["Subject"]) == p.json["subject"]
    assert html_body(msg) == p.json["html"]
    assert h.text_body(msg) == p.json["text"]

    # a key without a template previews (and sends) the built-in branded layout
    p = preview(key_name("plain"), tenant.key, channel="email", title="Hello", body="Line one")
    assert p.status == 200 and p.json["version"] == 0, p
    assert p.json["subject"] == "Hello", p
    assert "Acme &lt;Shop&gt;" in p.json["html"] and "#112233" in p.json["html"], p
    assert p.json["text"].startswith("Hello\n\nLine one\n"), p

    h.assert_json_error(h.api("POST", f"/v1/templates/{key}/test", body={"channel": "email", "to": "nope"}, key=tenant.key),
                        422, "validation_failed", "to")
    h.assert_json_error(preview(key, tenant.key, channel="pager"), 422, "validation_failed", "channel")


def test_preview_other_channels_and_sample_data(tenant):
    key = key_name("multi")
    assert put_template(key, tenant.key, EMAIL_V1).status == 201
    p = preview(key, tenant.key, channel="sms")
    assert p.status == 200, p
    assert p.json == {"channel": "sms", "locale": None, "version": 1, "text": "SMS Sample title #7"}, p  # sample data
    p = preview(key, tenant.key, channel="in_app", title="Shipped", body="On its way", data={"order": 5})
    assert p.json["title"] == "In-app Shipped" and p.json["body"] == "On its way (5)", p
    assert p.json["action_url"] == "https://app.example/o/5", p
    # discord has no variant: the built-in chat layout, with fields
    p = preview(key, tenant.key, channel="discord", title="Deploy", fields={"env": "prod", "ok": True})
    assert p.status == 200 and p.json["version"] == 0, p
    assert p.json["title"] == "Deploy", p
    assert p.json["fields"] == [{"name": "env", "value": "prod"}, {"name": "ok", "value": "true"}], p
    assert "env: prod" in p.json["text"], p
    # a given older version
    assert put_template(key, tenant.key, EMAIL_V2).status == 201
    p = preview(key, tenant.key, channel="sms", version=1)
    assert p.json["version"] == 1 and p.json["text"] == "SMS Sample title #7", p
    assert preview(key, tenant.key, channel="sms", version=99).status == 404


def test_published_template_renders_in_the_worker_and_roll_back_applies(tenant):
    key = key_name("shipped")
    assert put_template(key, tenant.key, EMAIL_V1).status == 201
    assert put_template(key, tenant.key, EMAIL_V2).status == 201
    to = h.unique_email("v2")
    payload = h.notification(email=to, channels=["email", "in_app"], type=key, title="Parcel")
    r = h.post_notification(tenant.key, payload)
    assert r.status == 202, r
    settled(tenant.key, r.json["id"], ["email", "in_app"])
    msg = h.wait_for_mail(to)
    assert str(msg["Subject"]) == "v2: Parcel"
    assert h.text_body(msg) == "v2 text Parcel"
    # v2 has no html part: the built-in layout fills it
    assert "<h1" in html_body(msg) and "Parcel" in html_body(msg)

    assert h.api("POST", f"/v1/templates/{key}/publish", body={"version": 1}, key=tenant.key).status == 200
    to = h.unique_email("v1")
    payload = h.notification(email=to, channels=["email", "in_app"], type=key, title="Parcel")
    r = h.post_notification(tenant.key, payload)
    settled(tenant.key, r.json["id"], ["email", "in_app"])
    msg = h.wait_for_mail(to)
    assert str(msg["Subject"]) == f"v1: Parcel for {payload['user']['id']}"
    assert html_body(msg) == f"<h1>Parcel</h1><p>Order 1234 &amp; {payload['data']['tag']}</p>"
    # in-app: the rendered title and body reach the inbox item
    uid = payload["user"]["id"]
    tok = h.api("POST", f"/v1/users/{uid}/token", body={}, key=tenant.key)
    assert tok.status == 200, tok
    inbox = h.api("GET", "/v1/inbox", headers={"Authorization": f"Bearer {tok.json['token']}"})
    assert inbox.status == 200, inbox
    items = inbox.json["items"]
    assert [i["title"] for i in items] == ["In-app Parcel"], inbox
    assert items[0]["body"].endswith("(1234)"), inbox


def test_locale_fallback(tenant):
    key = key_name("welcome")
    content = {
        "channels": {"email": {"subject": "Default {{title}}"}},
        "locales": {
            "en": {"email": {"subject": "English {{title}}"}},
            "fr": {"email": {"subject": "Bonjour {{title}}"}},
            "pt-BR": {"email": {"subject": "Olá {{title}}"}},
        },
    }
    assert put_template(key, tenant.key, content).status == 201

    def subject(locale):
        body = {"channel": "email", "title": "X"}
        if locale:
            body["locale"] = locale
        p = preview(key, tenant.key, **body)
        assert p.status == 200, p
        return p.json["subject"], p.json.get("locale")

    assert subject("fr") == ("Bonjour X", "fr")
    assert subject("fr-CA") == ("Bonjour X", "fr")          # language
    assert subject("pt-BR") == ("Olá X", "pt-BR")
    assert subject("PT-br") == ("Olá X", "pt-BR")           # tags compare without case
    assert subject("de-AT") == ("English X", "en")          # environment default
    assert subject(None) == ("English X", "en")
    # the environment default locale is part of branding
    assert h.api("PUT", "/v1/branding", body={"default_locale": "fr"}, key=tenant.key).status == 200
    assert subject("de") == ("Bonjour X", "fr")
    assert h.api("PUT", "/v1/branding", body={"default_locale": "it"}, key=tenant.key).status == 200
    assert subject("de") == ("Default X", None)             # the locale-less variant
    h.assert_json_error(preview(key, tenant.key, channel="email", locale="not a locale"), 422, "validation_failed", "locale")

    # the worker follows the same chain, with the locale the event's user carries
    to = h.unique_email("fr")
    nid = send_event(tenant.key, type=key, title="Y", user={"id": h.unique_user_id(), "email": to, "locale": "fr-BE"})
    settled(tenant.key, nid, ["email"])
    assert str(h.wait_for_mail(to)["Subject"]) == "Bonjour Y"


def test_notification_user_locale_picks_the_variant(tenant):
    key = key_name("loc")
    content = {"channels": {"email": {"subject": "Hello {{title}}"}},
               "locales": {"de": {"email": {"subject": "Hallo {{title}}"}}}}
    assert put_template(key, tenant.key, content).status == 201
    to = h.unique_email("de")
    payload = h.notification(email=to, channels=["email"], type=key, title="Z")
    payload["user"]["locale"] = "de-CH"
    r = h.post_notification(tenant.key, payload)
    assert r.status == 202, r
    settled(tenant.key, r.json["id"], ["email"])
    assert str(h.wait_for_mail(to)["Subject"]) == "Hallo Z"
    bad = h.notification(email=to, channels=["email"])
    bad["user"]["locale"] = "de_CH"
    h.assert_json_error(h.post_notification(tenant.key, bad), 422, "validation_failed", "user.locale")


def test_stored_user_locale_picks_the_variant_unless_the_request_names_one(tenant):
    key = key_name("uloc")
    content = {"channels": {"email": {"subject": "Hello {{title}}"}},
               "locales": {"fr": {"email": {"subject": "Bonjour {{title}}"}},
                           "de": {"email": {"subject": "Hallo {{title}}"}}}}
    assert put_template(key, tenant.key, content).status == 201
    user, to = h.unique_user_id(), h.unique_email("loc")
    r = h.api("PUT", f"/v1/users/{user}", key=tenant.key, body={"email": to, "locale": "fr-CA"})
    assert r.status == 200 and r.json["locale"] == "fr-CA", r
    # no locale in the request: the stored one (its language) picks the variant
    r = h.post_notification(tenant.key, {"user": {"id": user}, "type": key, "title": "A",
                                         "channels": ["email"]})
    assert r.status == 202, r
    settled(tenant.key, r.json["id"], ["email"])
    assert str(h.wait_for_mail(to, subject="Bonjour A")["Subject"]) == "Bonjour A"
    # the request's locale wins over the stored one
    r = h.post_notification(tenant.key, {"user": {"id": user, "locale": "de"}, "type": key,
                                         "title": "B", "channels": ["email"]})
    assert r.status == 202, r
    settled(tenant.key, r.json["id"], ["email"])
    assert str(h.wait_for_mail(to, subject="Hallo B")["Subject"]) == "Hallo B"
    # a bad tag is refused, naming the field; the stored one is unchanged
    h.assert_json_error(h.api("PUT", f"/v1/users/{user}", key=tenant.key,
                              body={"email": to, "locale": "fr_CA"}), 422, "validation_failed", "locale")
    assert h.api("GET", f"/v1/users/{user}", key=tenant.key).json["locale"] == "fr-CA"
