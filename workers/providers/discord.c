/* discord: a rich embed (title, description, colour, one field per data
 * member) sent either to a webhook URL (the user's address; execute with
 * ?wait=true so the message id comes back), as a bot direct message (POST
 * /users/@me/channels {recipient_id} opens the DM channel, then POST
 * /channels/{id}/messages posts the embed), or for a team destination (no
 * end user) straight to the channel id with the bot. 429 carries retry_after
 * (seconds, fractional) in the JSON body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "provider.h"
#include "render.h"

/* The embed's colour: data.color of the message, else its category's
 * colour ("#rrggbb"), else the integration's, else Herald's. */
static long discord_color(const hr_job_t *job)
{
    const hr_message_t *m = &job->msg;
    const json_t *c = json_object_get(m->data, "color");
    if (json_is_integer(c))
        return (long)json_integer_value(c);
    const char *cat = m->rendered != NULL ? m->rendered->color : NULL;
    if (cat != NULL && cat[0] == '#' && strlen(cat) == 7 &&
        strspn(cat + 1, "0123456789abcdefABCDEF") == 6)
        return strtol(cat + 1, NULL, 16);
    return hr_integration_setting_int(job->integ, "color", 0x4f46e5);
}

/* Title, description (the body, or the tenant's whole chat text when its
 * template has one, then without a title), colour and one inline field per
 * event field and data member. */
static json_t *discord_embed(const hr_job_t *job)
{
    const hr_message_t *m = &job->msg;
    json_t *fields = json_array(), *pairs = hr_provider_fields(m, 25);
    size_t i;
    json_t *f;
    json_array_foreach(pairs, i, f) {
        const char *name = hr_json_str(f, "name"), *value = hr_json_str(f, "value");
        if (value[0] == '\0') /* Discord refuses empty field values */
            value = "-";
        json_array_append_new(fields, json_pack("{s:s%, s:s%, s:b}", "name", name,
                                                hr_provider_utf8_cut(name, 256), "value", value,
                                                hr_provider_utf8_cut(value, 1024), "inline", 1));
    }
    json_decref(pairs);
    const char *own = hr_provider_template_text(m);
    const char *desc = own != NULL ? own : m->body;
    json_t *e = json_pack("{s:i, s:o}", "color", (int)discord_color(job), "fields", fields);
    hr_assert(e != NULL);
    if (own == NULL)
        json_object_set_new(e, "title", json_stringn(m->title, hr_provider_utf8_cut(m->title, 256)));
    if (desc[0] != '\0') /* an empty description is refused */
        json_object_set_new(e, "description", json_stringn(desc, hr_provider_utf8_cut(desc, 4096)));
    if (m->created_at[0])
        json_object_set_new(e, "timestamp", json_string(m->created_at));
    return json_pack("{s:[o]}", "embeds", e);
}

static void discord_post_embed(hr_job_t *job, const char *url)
{
    json_t *doc = discord_embed(job);
    hr_http_begin(job, "POST", url, hr_json_dump(doc), "application/json");
    json_decref(doc);
}

static int discord_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const char *addr = job->msg.address;
    job->rate_per_s = hr_integration_setting_int(job->integ, "rate_per_s",
                                                 job->cfg->providers_rate_discord);
    if (strncmp(addr, "https://", 8) == 0 || strncmp(addr, "http://", 7) == 0) {
        char url[1024];
        snprintf(url, sizeof url, "%s%swait=true", addr, strchr(addr, '?') ? "&" : "?");
        discord_post_embed(job, url);
        job->step = 0;
        snprintf(job->gate_key, sizeof job->gate_key, "discord:%.240s", addr);
        return 0;
    }
    const char *token = hr_integration_cred(job->integ, "bot_token", NULL);
    if (token == NULL) {
        hr_provider_fail(res, HR_SEND_PERMANENT, "not_configured: the integration has no bot_token");
        return -1;
    }
    char base[512], url[1024];
    hr_http_base(job, "https://discord.com/api/v10", base, sizeof base);
    snprintf(job->gate_key, sizeof job->gate_key, "discord:%.200s/bot:%.16s", base, token);
    if (job->msg.user_id == NULL || job->msg.user_id[0] == '\0') {
        /* A team destination (no end user): the address is a channel id. */
        snprintf(url, sizeof url, "%s/channels/%s/messages", base, addr);
        discord_post_embed(job, url);
        hr_http_header(job, "Authorization: Bot %s", token);
        job->step = 2;
        return 0;
    }
    snprintf(url, sizeof url, "%s/users/@me/channels", base);
    json_t *doc = json_pack("{s:s}", "recipient_id", addr);
    hr_http_begin(job, "POST", url, hr_json_dump(doc), "application/json");
    hr_http_preliminary(job); /* opening the DM channel delivers nothing */
    json_decref(doc);
    hr_http_header(job, "Authorization: Bot %s", token);
    job->step = 1;
    return 0;
}

static int discord_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    hr_http_classify(job, rc, status, res);
    if (rc != CURLE_OK || job->guard.blocked)
        return 0;
    json_t *doc = hr_http_json(job);
    if (res->outcome != HR_SEND_OK) {
        const json_t *ra = json_object_get(doc, "retry_after");
        if (json_is_number(ra))
            res->retry_after_ms = (long)(json_number_value(ra) * 1000.0);
        const char *msg = hr_json_str(doc, "message");
        if (msg != NULL)
            hr_provider_fail(res, res->outcome, "discord_%lld: %.400s",
                             (long long)json_integer_value(json_object_get(doc, "code")), msg);
        json_decref(doc);
        return 0;
    }
    const char *id = hr_json_str(doc, "id");
    if (id == NULL) {
        if (job->step == 1)
            hr_provider_fail(res, HR_SEND_TRANSIENT, "bad_response: HTTP %ld without a DM channel id", status);
        else
            snprintf(res->error, sizeof res->error, "bad_response: HTTP %ld without a message id (treated as sent)", status);
        json_decref(doc);
        return 0;
    }
    if (job->step == 1) {
        /* The DM channel is open: post the embed to it. */
        char base[512], url[1024];
        const char *token = hr_integration_cred(job->integ, "bot_token", "");
        hr_http_base(job, "https://discord.com/api/v10", base, sizeof base);
        snprintf(url, sizeof url, "%s/channels/%s/messages", base, id);
        json_decref(doc);
        discord_post_embed(job, url);
        hr_http_header(job, "Authorization: Bot %s", token);
        job->step = 2;
        return 1;
    }
    snprintf(res->provider_message_id, sizeof res->provider_message_id, "%s", id);
    json_decref(doc);
    return 0;
}

const hr_provider_ops_t hr_provider_discord = {
    .name = "discord", .prepare = discord_prepare, .finish = discord_finish};
