"""The provider answer matrix: every HTTP provider (Discord webhook and bot,
Slack bot and incoming webhook, Twilio, WhatsApp, Resend) against every kind
of answer the loopback fake can script — success, client error, refused
credentials, rate limit, server error, timeout, malformed JSON — and the
delivery state each one becomes (GET /v1/notifications/{id}: status,
attempts, error, provider_message_id, attempt log). Telegram has its own
matrix in test_providers.py.

Each case scripts one answer and lets the fake's built-in success (or the
provider's success body) answer the retry, so a transient case settles in a
few seconds: the test stack backs off 200 ms (cap 2 s), a due retry waits
for the sweeper's next turn (at most 1 s), and an HTTP request times out
after HERALD_WORKER_HTTP_TIMEOUT_MS = 2000 ms. Cases that only differ in the
answer run side by side, each in a tenant of its own."""

import herald_helpers as h
import provider_helpers as ph
import pytest


class Target:
    """One provider set up for one test: who to send to, with which extra
    user fields, and the fake's path prefix that answers the send itself."""

    def __init__(self, user, prefix, fields=None):
        self.user = user
        self.prefix = prefix
        self.fields = fields or {}


def discord_webhook(tenant, fake):
    prefix = fake.prefix("mx-dw")
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_webhook_url=fake.url + prefix + "/api/webhooks/111/tok-en")
    return Target(user, prefix)


def discord_bot(tenant, fake):
    prefix = fake.prefix("mx-db")
    ph.put_integration(tenant.key, "discord", "discord", {"bot_token": "bot-matrix"},
                       {"base_url": fake.url + prefix})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, discord_user_id="123456789012345678")
    # Opening the DM channel always works; the scripted answers go to the
    # message itself (POST /channels/{id}/messages).
    fake.script(prefix + "/users", [], default={"status": 200, "json": {
        "id": "555000111222333444", "type": 1, "recipients": [{"id": "123456789012345678"}]}})
    return Target(user, prefix + "/channels")


def slack_bot(tenant, fake):
    prefix = fake.prefix("mx-sb")
    ph.put_integration(tenant.key, "slack", "slack", {"bot_token": "xoxb-matrix"},
                       {"base_url": fake.url + prefix})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, slack_channel="C0MATRIX1")
    return Target(user, prefix)


def slack_webhook(tenant, fake):
    prefix = fake.prefix("mx-sw")
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, slack_webhook_url=fake.url + prefix + "/services/T000/B000/XXXX")
    return Target(user, prefix)


def twilio(tenant, fake):
    prefix = fake.prefix("mx-tw")
    ph.put_integration(tenant.key, "sms", "twilio", {"account_sid": "ACmatrix", "auth_token": "tok"},
                       {"base_url": fake.url + prefix, "from": "+15005550006"})
    return Target(h.unique_user_id(), prefix, {"phone": "+14155550100"})


def whatsapp(tenant, fake):
    prefix = fake.prefix("mx-wa")
    ph.put_integration(tenant.key, "whatsapp", "whatsapp", {"access_token": "EAAG-matrix"},
                       {"base_url": fake.url + prefix, "phone_number_id": "1066"})
    user = h.unique_user_id()
    ph.put_user(tenant.key, user, whatsapp="+14155550101")
    return Target(user, prefix)


def resend(tenant, fake):
    prefix = fake.prefix("mx-rs")
    ph.put_integration(tenant.key, "email", "resend", {"api_key": "re_matrix"},
                       {"base_url": fake.url + prefix, "from": "Herald <noreply@example.com>"})
    return Target(h.unique_user_id(), prefix, {"email": h.unique_email()})


# name -> (channel, setup)
PROVIDERS = {
    "discord_webhook": ("discord", discord_webhook),
    "discord_bot": ("discord", discord_bot),
    "slack_bot": ("slack", slack_bot),
    "slack_webhook": ("slack", slack_webhook),
    "twilio": ("sms", twilio),
    "whatsapp": ("whatsapp", whatsapp),
    "resend": ("email", resend),
}
NAMES = list(PROVIDERS)


def start(tenant, fake, name, answers):
    """Sets the provider up, scripts its first answers, sends one
    notification; returns (channel, target, notification id)."""
    channel, setup = PROVIDERS[name]
    t = setup(tenant, fake)
    fake.script(t.prefix, answers)
    nid = ph.send(tenant.key, t.user, [channel], **t.fields)
    return channel, t, nid


def wait_final(tenant, nid, channel, want, timeout=20.0):
    """The delivery once it is sent or failed (whichever comes, so that a
    wrong outcome fails at once); it must be want."""
    d = ph.wait_delivery(tenant.key, nid, channel, ("sent", "failed"), timeout=timeout)
    assert d["status"] == want, d
    return d


def log_of(d):
    return [(a["outcome"], a["response_code"]) for a in d["attempt_log"]]


def assert_one_request(fake, prefix):
    """The delivery is final after one attempt: nothing was sent again."""
    assert len(fake.requests(prefix)) == 1, fake.requests(prefix)


def settle_sent(tenant, fake, name, answers, timeout=20.0):
    """Runs the case to the end: the delivery must end sent after exactly
    one attempt per scripted answer plus the one that succeeded."""
    channel, t, nid = start(tenant, fake, name, answers)
    return check_sent(wait_final(tenant, nid, channel, "sent", timeout=timeout), answers), t


def settle_sent_many(tenant_factory, fake, cases):
    """Like settle_sent for several (provider, answers) cases at once, each
    in a tenant of its own (retries wait for the sweeper's next turn, so
    running them side by side keeps the file fast). Returns the deliveries
    in the order of cases."""
    started = []
    for name, answers in cases:
        tenant = tenant_factory()
        started.append((tenant, answers) + start(tenant, fake, name, answers))
    return [check_sent(wait_final(tenant, nid, channel, "sent"), answers)
            for tenant, answers, channel, _, nid in started]


def check_sent(d, answers):
    assert d["attempts"] == len(answers) + 1, d
    outcomes = [a["outcome"] for a in d["attempt_log"]]
    assert outcomes == ["transient"] * len(answers) + ["sent"], d
    assert d["provider_message_id"], d
    return d


# ------------------------------------------------------------ 200/201 success

# The provider's real success answer and the message id it becomes
# (None: computed from the delivery).
SUCCESS = {
    "discord_webhook": ({"status": 200, "json": {
        "id": "1180000000000000001", "type": 0, "channel_id": "1170000000000000000",
        "webhook_id": "111", "content": "", "embeds": [{"title": "Hello"}]}}, "1180000000000000001"),
    "discord_bot": ({"status": 200, "json": {
        "id": "1180000000000000002", "type": 0, "channel_id": "555000111222333444",
        "author": {"id": "42", "bot": True}, "embeds": [{"title": "Hello"}]}}, "1180000000000000002"),
    "slack_bot": ({"status": 200, "json": {
        "ok": True, "channel": "C0MATRIX1", "ts": "1503435956.000247",
        "message": {"type": "message", "text": "Hello", "bot_id": "B1"}}}, "C0MATRIX1:1503435956.000247"),
    # Incoming webhooks answer the word "ok" and give no id: Herald names it.
    "slack_webhook": ({"status": 200, "body": "ok"}, None),
    "twilio": ({"status": 201, "json": {
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "num_segments": "1",
        "error_code": None, "error_message": None, "to": "+14155550100", "from": "+15005550006"}},
        "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    "whatsapp": ({"status": 200, "json": {
        "messaging_product": "whatsapp", "contacts": [{"input": "14155550101", "wa_id": "14155550101"}],
        "messages": [{"id": "wamid.HBgLMTQxNTU1NTAxMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}},
        "wamid.HBgLMTQxNTU1NTAxMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"),
    "resend": ({"status": 200, "json": {"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}},
               "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"),
}


@pytest.mark.parametrize("name", NAMES)
def test_success_is_sent_with_the_provider_message_id(tenant, provider_fake, name):
    answer, want = SUCCESS[name]
    channel, t, nid = start(tenant, provider_fake, name, [answer])
    d = wait_final(tenant, nid, channel, "sent")
    if want is None:  # the Slack webhook
        want = "webhook:" + d["id"]
    assert d["provider_message_id"] == want, d
    assert d["attempts"] == 1 and d["error"] is None, d
    assert log_of(d) == [("sent", answer["status"])], d
    assert_one_request(provider_fake, t.prefix)


# ------------------------------------------------------------ 400/422: permanent

# The provider's real error answer and the error it must become.
CLIENT_ERROR = {
    "discord_webhook": ({"status": 400, "json": {
        "message": "Invalid Form Body", "code": 50035,
        "errors": {"embeds": {"0": {"description": {"_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}}},
        "discord_50035: Invalid Form Body"),
    "discord_bot": ({"status": 403, "json": {"message": "Cannot send messages to this user", "code": 50007}},
                    "discord_50007: Cannot send messages to this user"),
    # chat.postMessage says every error with HTTP 200 and ok:false.
    "slack_bot": ({"status": 200, "json": {"ok": False, "error": "invalid_blocks",
                                           "errors": ["invalid additional property: foo"]}},
                  "slack_invalid_blocks: HTTP 200"),
    # Incoming webhooks answer an error word in plain text.
    "slack_webhook": ({"status": 400, "body": "invalid_payload"}, "slack_400: invalid_payload"),
    "twilio": ({"status": 400, "json": {
        "code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}},
        "twilio_21211: The 'To' number +14155550100 is not a valid phone number."),
    "whatsapp": ({"status": 400, "json": {"error": {
        "message": "(#131026) Message Undeliverable.", "type": "OAuthException", "code": 131026,
        "error_data": {"messaging_product": "whatsapp", "details": "Message Undeliverable."},
        "fbtrace_id": "AbCdEf"}}}, "whatsapp_131026: (#131026) Message Undeliverable."),
    "resend": ({"status": 422, "json": {"statusCode": 422, "name": "validation_error",
                                        "message": "Invalid `to` field. The email address needs to follow the "
                                                   "`email@example.com` or `Name <email@example.com>` format."}},
               "resend_validation_error: Invalid `to` field."),
}


@pytest.mark.parametrize("name", NAMES)
def test_client_error_fails_at_once_with_the_provider_error(tenant, provider_fake, name):
    answer, want = CLIENT_ERROR[name]
    channel, t, nid = start(tenant, provider_fake, name, [answer])
    d = wait_final(tenant, nid, channel, "failed")
    assert d["error"].startswith(want), d
    assert d["attempts"] == 1 and d["provider_message_id"] is None, d
    assert log_of(d) == [("permanent", answer["status"])], d
    assert d["attempt_log"][0]["error"].startswith(want), d
    assert_one_request(provider_fake, t.prefix)


# ------------------------------------------------------------ 401/403: credentials

AUTH_ERROR = {
    "discord_webhook": ({"status": 401, "json": {"message": "Invalid Webhook Token", "code": 50027}},
                        "discord_50027: Invalid Webhook Token"),
    "discord_bot": ({"status": 401, "json": {"message": "401: Unauthorized", "code": 0}},
                    "discord_0: 401: Unauthorized"),
    # Slack's Web API refuses a token with HTTP 200 and ok:false.
    "slack_bot": ({"status": 200, "json": {"ok": False, "error": "invalid_auth"}},
                  "slack_invalid_auth: HTTP 200"),
    "slack_webhook": ({"status": 403, "body": "invalid_token"}, "slack_403: invalid_token"),
    "twilio": ({"status": 401, "json": {"code": 20003, "message": "Authenticate",
                                        "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}},
               "twilio_20003: Authenticate"),
    "whatsapp": ({"status": 401, "json": {"error": {
        "message": "Error validating access token: Session has expired on Friday, 01-Dec-23 08:00:00 PST.",
        "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbCdEf"}}},
        "whatsapp_190: Error validating access token"),
    "resend": ({"status": 403, "json": {"statusCode": 403, "name": "invalid_api_key",
                                        "message": "API key is invalid"}},
               "resend_invalid_api_key: API key is invalid"),
}


@pytest.mark.parametrize("name", NAMES)
def test_refused_credentials_fail_at_once(tenant, provider_fake, name):
    answer, want = AUTH_ERROR[name]
    channel, t, nid = start(tenant, provider_fake, name, [answer])
    d = wait_final(tenant, nid, channel, "failed")
    assert d["error"].startswith(want), d
    assert d["attempts"] == 1, d
    assert log_of(d) == [("permanent", answer["status"])], d
    assert_one_request(provider_fake, t.prefix)


# ------------------------------------------------------------ 429: retry when asked

# The provider's way of saying "too many": the answer, how long it asks to
# wait (s; None: it does not say, backoff only) and the error it becomes.
RATE_LIMIT = {
    # Discord says when in the body (fractional seconds); its Retry-After
    # header is rounded and must not win.
    "discord_webhook": ({"status": 429, "headers": {"Retry-After": "1"}, "json": {
        "message": "You are being rate limited.", "retry_after": 2.5, "global": False}},
        2.5, "discord_0: You are being rate limited."),
    "discord_bot": ({"status": 429, "json": {
        "message": "You are being rate limited.", "retry_after": 2.2, "global": False, "code": 0}},
        2.2, "discord_0: You are being rate limited."),
    "slack_bot": ({"status": 429, "headers": {"Retry-After": "2"},
                   "json": {"ok": False, "error": "ratelimited"}}, 2.0, "slack_ratelimited: HTTP 429"),
    "slack_webhook": ({"status": 429, "headers": {"Retry-After": "2"}, "body": "rate_limited"},
                      2.0, "slack_429: rate_limited"),
    "twilio": ({"status": 429, "headers": {"Retry-After": "2"}, "json": {
        "code": 20429, "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}},
        2.0, "twilio_20429: Too Many Requests"),
    # WhatsApp throttles with HTTP 400 and a throttling code, without a
    # time: retried by backoff.
    "whatsapp": ({"status": 400, "json": {"error": {
        "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
        "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."},
        "fbtrace_id": "AbCdEf"}}}, None, "whatsapp_130429: (#130429) Rate limit hit"),
    "resend": ({"status": 429, "headers": {"retry-after": "2", "ratelimit-limit": "2", "ratelimit-remaining": "0",
                                           "ratelimit-reset": "2"},
                "json": {"statusCode": 429, "name": "rate_limit_exceeded",
                         "message": "Too many requests. You can only make 2 requests per second."}},
               2.0, "resend_rate_limit_exceeded: Too many requests."),
}


@pytest.mark.parametrize("name", NAMES)
def test_rate_limit_is_retried_no_earlier_than_asked(tenant, provider_fake, db, name):
    # The asked waits (2 s and more) exceed what the backoff (200 ms) and the
    # sweeper's turn (1 s) would give: a retry that ignored them shows.
    answer, wait_s, want = RATE_LIMIT[name]
    channel, t, nid = start(tenant, provider_fake, name, [answer])
    if wait_s is not None:
        d = ph.wait_delivery(tenant.key, nid, channel, "retrying")
        row = ph.delivery_row(db, d["id"])
        assert row["retry_in_s"] is not None and row["retry_in_s"] >= wait_s - 0.01, row
        assert row["error"].startswith(want), row
    reqs = provider_fake.wait_requests(t.prefix, 2, timeout=15)
    gap = reqs[1]["time"] - reqs[0]["time"]
    if wait_s is not None:
        assert gap >= wait_s - 0.05, (gap, wait_s)
    d = wait_final(tenant, nid, channel, "sent")
    assert d["attempts"] == 2, d
    assert log_of(d) == [("transient", answer["status"]), ("sent", 200)], d
    assert d["attempt_log"][0]["error"].startswith(want), d
    assert d["provider_message_id"], d


# ------------------------------------------------------------ 5xx: retried then sent

SERVER_ERROR_JSON = {
    "discord_webhook": {"message": "500: Internal Server Error", "code": 0},
    "discord_bot": {"message": "500: Internal Server Error", "code": 0},
    "slack_bot": {"ok": False, "error": "internal_error"},
    "slack_webhook": None,
    "twilio": {"code": 20500, "message": "Internal Server Error",
               "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500},
    "whatsapp": {"error": {"message": "An unknown error has occurred.", "type": "OAuthException",
                           "code": 1, "fbtrace_id": "AbCdEf"}},
    "resend": {"statusCode": 500, "name": "application_error",
               "message": "An unexpected error occurred, please try again."},
}


def server_error(name, status):
    if status == 500 and SERVER_ERROR_JSON[name] is not None:
        return {"status": 500, "json": SERVER_ERROR_JSON[name]}
    if status == 500:  # the Slack webhook
        return {"status": 500, "body": "rollup_error"}
    if status == 502:  # a proxy in front of the provider
        return {"status": 502, "body": "<html><body><h1>502 Bad Gateway</h1></body></html>",
                "content_type": "text/html"}
    return {"status": 503, "body": "upstream connect error or disconnect/reset before headers"}


@pytest.mark.parametrize("name", NAMES)
def test_server_error_is_retried_then_sent(tenant_factory, provider_fake, name):
    statuses = [500, 502, 503]
    ds = settle_sent_many(tenant_factory, provider_fake, [(name, [server_error(name, s)]) for s in statuses])
    for status, d in zip(statuses, ds):
        assert d["attempt_log"][0]["response_code"] == status, (status, d)
        assert d["error"] is None, (status, d)


# ------------------------------------------------------------ timeout: retried then sent


@pytest.mark.parametrize("name", NAMES)
def test_timeout_is_retried_then_sent(tenant, provider_fake, name):
    # The fake keeps the request unanswered beyond the 2 s client timeout.
    d, t = settle_sent(tenant, provider_fake, name, [{"timeout": True}])
    first = d["attempt_log"][0]
    assert first["error"].startswith("timeout"), d
    assert first["response_code"] in (None, 0), d
    assert first["duration_ms"] >= 1900, d
    assert len(provider_fake.requests(t.prefix)) == 2


# ------------------------------------------------------------ 200 with malformed JSON

# What each provider's finish function does today with a 2xx whose body is
# not JSON: a 2xx means the provider took the message, and sending again could
# deliver it twice, so it is "sent" without a message id and an error that
# starts bad_response. The Slack incoming webhook never reads JSON (it
# answers a plain word) and names the message itself.
MALFORMED = {
    "discord_webhook": "bad_response: HTTP 200 without a message id (treated as sent)",
    "discord_bot": "bad_response: HTTP 200 without a message id (treated as sent)",
    "slack_bot": "bad_response: HTTP 200 with a body that is not JSON (treated as sent)",
    "slack_webhook": None,
    "twilio": "bad_response: HTTP 200 with a body that is not JSON (treated as sent)",
    "whatsapp": "bad_response: HTTP 200 with a body that is not JSON (treated as sent)",
    "resend": "bad_response: HTTP 200 with a body that is not JSON (treated as sent)",
}


@pytest.mark.parametrize("name", NAMES)
def test_malformed_json_success_is_sent_without_an_id(tenant, provider_fake, name):
    answer = {"status": 200, "body": '{"id": "12', "content_type": "application/json"}
    channel, t, nid = start(tenant, provider_fake, name, [answer])
    d = wait_final(tenant, nid, channel, "sent")
    assert d["attempts"] == 1 and log_of(d) == [("sent", 200)], d
    want = MALFORMED[name]
    if want is None:
        assert d["provider_message_id"] == "webhook:" + d["id"] and d["error"] is None, d
    else:
        assert d["provider_message_id"] is None and d["error"] == want, d
    assert_one_request(provider_fake, t.prefix)


def test_discord_bot_malformed_dm_channel_is_retried(tenant, provider_fake):
    """The one exception: a bot DM whose channel-opening answer is not JSON
    has delivered nothing yet, so it is transient and tried again whole."""
    t = discord_bot(tenant, provider_fake)
    users = t.prefix.rsplit("/channels", 1)[0] + "/users"
    provider_fake.script(users, [{"status": 200, "body": "<html>", "content_type": "text/html"}],
                         default={"status": 200, "json": {"id": "555000111222333444", "type": 1}})
    channel = "discord"
    nid = ph.send(tenant.key, t.user, [channel])
    d = wait_final(tenant, nid, channel, "sent")
    assert [a["outcome"] for a in d["attempt_log"]] == ["transient", "sent"], d
    assert d["attempt_log"][0]["error"] == "bad_response: HTTP 200 without a DM channel id", d


# ------------------------------------------------------------ provider codes that override the status


def test_slack_ok_false_channel_not_found_fails_at_once(tenant, provider_fake):
    channel, t, nid = start(tenant, provider_fake, "slack_bot",
                            [{"status": 200, "json": {"ok": False, "error": "channel_not_found"}}])
    d = wait_final(tenant, nid, channel, "failed")
    assert d["error"] == "slack_channel_not_found: HTTP 200", d
    assert log_of(d) == [("permanent", 200)], d
    assert_one_request(provider_fake, t.prefix)


def test_slack_ok_false_throttling_and_server_errors_are_retried(tenant_factory, provider_fake):
    errors = ["ratelimited", "internal_error", "service_unavailable", "request_timeout"]
    ds = settle_sent_many(tenant_factory, provider_fake,
                          [("slack_bot", [{"status": 200, "json": {"ok": False, "error": e}}]) for e in errors])
    for error, d in zip(errors, ds):
        assert log_of(d) == [("transient", 200), ("sent", 200)], d
        assert d["attempt_log"][0]["error"] == f"slack_{error}: HTTP 200", d


def test_whatsapp_throttling_and_server_codes_are_retried(tenant_factory, provider_fake):
    """Meta's throttling (4, 80007, 130429, 131048, 131056) and its own
    failures (1, 2, 131000) come as HTTP 400: the code decides."""
    codes = [4, 80007, 130429, 131048, 131056, 1, 2, 131000]
    ds = settle_sent_many(tenant_factory, provider_fake, [("whatsapp", [{"status": 400, "json": {"error": {
        "message": f"(#{c}) try later", "type": "OAuthException", "code": c, "fbtrace_id": "A"}}}])
        for c in codes])
    for code, d in zip(codes, ds):
        assert d["attempt_log"][0]["error"] == f"whatsapp_{code}: (#{code}) try later", d


def test_twilio_try_later_codes_are_retried_whatever_the_status(tenant_factory, provider_fake):
    """Twilio's code says more than its HTTP status: a full queue on the
    sending number (21611) comes as a 400 but clears by itself; so does
    20429 whatever status carries it."""
    cases = [(20429, "Too Many Requests"),
             (21611, "This 'From' number has exceeded the maximum number of queued messages")]
    ds = settle_sent_many(tenant_factory, provider_fake, [("twilio", [{"status": 400, "json": {
        "code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 400}}]) for code, message in cases])
    for (code, message), d in zip(cases, ds):
        assert log_of(d) == [("transient", 400), ("sent", 200)], d
        assert d["attempt_log"][0]["error"] == f"twilio_{code}: {message}", d


def test_resend_concurrent_idempotent_request_is_retried(tenant, provider_fake):
    """Herald sends the delivery id as Resend's Idempotency-Key: a retry (after
    a timeout) that meets its first request still in progress gets a 409
    concurrent_idempotent_requests, which asks to try again later."""
    d, t = settle_sent(tenant, provider_fake, "resend", [{"status": 409, "json": {
        "statusCode": 409, "name": "concurrent_idempotent_requests",
        "message": "Same idempotency key used while original request is still in progress."}}])
    assert d["attempt_log"][0]["error"].startswith("resend_concurrent_idempotent_requests: "), d
    reqs = provider_fake.requests(t.prefix)
    assert [r["headers"]["idempotency-key"] for r in reqs] == [d["id"], d["id"]]


def test_resend_idempotency_key_reused_with_another_body_fails(tenant, provider_fake):
    channel, t, nid = start(tenant, provider_fake, "resend", [{"status": 409, "json": {
        "statusCode": 409, "name": "invalid_idempotent_request",
        "message": "Same idempotency key used with a different request payload."}}])
    d = wait_final(tenant, nid, channel, "failed")
    assert d["error"].startswith("resend_invalid_idempotent_request: "), d
    assert log_of(d) == [("permanent", 409)], d
