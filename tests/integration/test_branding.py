"""Branding: per environment, validated field by field, injected into every
template as {{brand.*}}; a change shows in the very next email."""

import herald_helpers as h
from content_helpers import html_body, key_name, preview, put_template, settled


def test_defaults_validation_and_isolation(tenant):
    r = h.api("GET", "/v1/branding", key=tenant.key)
    assert r.status == 200, r
    assert r.json["primary_color"] == "#4f46e5" and r.json["default_locale"] == "en", r
    assert r.json["company_name"] == "", r
    for body, field in [
        ({"primary_color": "blue"}, "primary_color"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"support_email": "not-an-address"}, "support_email"),
        ({"default_locale": "english"}, "default_locale"),
        ({"company_name": 5}, "company_name"),
        ({"company_name": "x" * 201}, "company_name"),
        ({"colour": "#000000"}, "colour"),
    ]:
        h.assert_json_error(h.api("PUT", "/v1/branding", body=body, key=tenant.key), 422, "validation_failed", field)
    r = h.api("PUT", "/v1/branding", body={"company_name": "Acme", "support_email": "help@acme.example"}, key=tenant.key)
    assert r.status == 200 and r.json["company_name"] == "Acme", r
    # a partial update keeps the other fields
    r = h.api("PUT", "/v1/branding", body={"footer_text": "Acme Inc, 1 Road"}, key=tenant.key)
    assert r.json["company_name"] == "Acme" and r.json["footer_text"] == "Acme Inc, 1 Road", r
    assert h.TS_RE.match(r.json["updated_at"]), r
    # the production environment has its own
    assert h.api("GET", "/v1/branding", key=tenant.prod_key).json["company_name"] == ""
    assert h.api("GET", "/v1/branding").status == 401


def test_branding_change_shows_in_the_next_email(tenant):
    key = key_name("brand")
    tpl = {"channels": {"email": {
        "subject": "{{brand.company_name}}: {{title}}",
        "html": "{{<layout}}{{$content}}<p>Hi from {{brand.company_name}}</p>{{/content}}{{/layout}}",
    }}}
    assert put_template(key, tenant.key, tpl).status == 201
    brand = {"company_name": "First Co", "primary_color": "#aa0000", "logo_url": "https://cdn.example/logo.png",
             "footer_text": "First footer", "support_email": "help@first.example"}
    assert h.api("PUT", "/v1/branding", body=brand, key=tenant.key).status == 200

    def send(tag):
        to = h.unique_email(tag)
        r = h.post_notification(tenant.key, h.notification(email=to, channels=["email"], type=key, title="News"))
        assert r.status == 202, r
        settled(tenant.key, r.json["id"], ["email"])
        return h.wait_for_mail(to)

    msg = send("first")
    assert str(msg["Subject"]) == "First Co: News"
    html = html_body(msg)
    for s in ("Hi from First Co", "#aa0000", 'src="https://cdn.example/logo.png"', "First footer", "help@first.example"):
        assert s in html, (s, html)
    assert "First footer" in h.text_body(msg) or "text" not in tpl["channels"]["email"]

    assert h.api("PUT", "/v1/branding", body={"company_name": "Second Co", "primary_color": "#00bb00"}, key=tenant.key).status == 200
    msg = send("second")
    assert str(msg["Subject"]) == "Second Co: News"
    html = html_body(msg)
    assert "Hi from Second Co" in html and "#00bb00" in html and "#aa0000" not in html, html
    # the preview shows the same
    p = preview(key, tenant.key, channel="email", title="News")
    assert p.json["subject"] == "Second Co: News" and p.json["html"] == html, p


def test_default_layout_is_branded(tenant):
    assert h.api("PUT", "/v1/branding", body={"company_name": "Plain Co", "footer_text": "Plain footer"}, key=tenant.key).status == 200
    to = h.unique_email("plain")
    payload = h.notification(email=to, channels=["email"])
    r = h.post_notification(tenant.key, payload)
    settled(tenant.key, r.json["id"], ["email"])
    msg = h.wait_for_mail(to)
    assert str(msg["Subject"]) == payload["title"]
    assert "Plain Co" in html_body(msg) and payload["body"] in html_body(msg)
    text = h.text_body(msg)
    assert text.startswith(payload["title"] + "\n\n" + payload["body"]), text
    assert "tag: " + payload["data"]["tag"] in text and "Plain footer" in text, text
