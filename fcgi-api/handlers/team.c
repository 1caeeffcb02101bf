/* team: GET|PUT /v1/team-destinations — where events without a user go
 * (the tenant's own ops feed): one address per channel, e.g. an email list,
 * a Discord webhook or channel, a Telegram group. PUT replaces the set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "channel.h"
#include "content.h"
#include "handlers.h"
#include "log.h"
#include "notification.h"

static const char *const get_sql =
    "SELECT COALESCE(json_object_agg(channel, address ORDER BY channel), '{}')::text"
    " FROM team_destinations WHERE environment_id = $1";

/* Replaces the whole set in one statement. */
static const char *const put_sql =
    "WITH d AS (DELETE FROM team_destinations WHERE environment_id = $1"
    "  AND channel NOT IN (SELECT key FROM json_each_text($2::json))),"
    " u AS (INSERT INTO team_destinations (environment_id, channel, address)"
    "  SELECT $1, key, value FROM json_each_text($2::json)"
    "  ON CONFLICT (environment_id, channel) DO UPDATE SET address = EXCLUDED.address,"
    "   updated_at = now() RETURNING 1)"
    "SELECT $2::json::text FROM (SELECT count(*) FROM u) x";

static void team_get(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[1] = {r->auth.environment_id};
    json_t *doc = NULL;
    if (hr_content_query(r, "team destinations read", get_sql, 1, p, &doc) > 0)
        hr_req_reply(r, 200, json_pack("{s:o}", "destinations", doc), NULL);
}

static void team_put(hr_req_t *r)
{
    json_t *body = NULL, *doc = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    static const char *const fields[] = {"destinations", NULL};
    json_t *d = json_object_get(body, "destinations");
    if (hr_content_known(r, body, fields) != 0)
        goto done;
    if (!json_is_object(d)) {
        hr_content_invalid(r, "destinations",
                           "destinations must be an object of channel -> address");
        goto done;
    }
    const char *ch;
    json_t *addr;
    json_object_foreach(d, ch, addr)
    {
        hr_channel_t c;
        char f[64];
        snprintf(f, sizeof f, "destinations.%.40s", ch);
        if (hr_channel_parse(ch, &c) != 0 || c == HR_CHANNEL_IN_APP) {
            hr_content_invalid(r, f,
                               "%s is not a channel a team can receive on (email, sms, "
                               "telegram, discord, whatsapp, slack, webhook)",
                               f);
            goto done;
        }
        const char *a = json_string_value(addr);
        if (a == NULL || a[0] == '\0' || strlen(a) > 2000) {
            hr_content_invalid(r, f, "%s must be an address of 1 to 2000 characters", f);
            goto done;
        }
        /* the rules of stored user addresses (webhook URLs under the SSRF
         * rules, checked now and again when sending) */
        char why[192];
        if (c != HR_CHANNEL_WEBHOOK &&
            !hr_address_valid(c, HR_ADDR_ANY, a,
                              hr_ssrf_policy_parse(r->app->cfg.providers_private_targets), why,
                              sizeof why)) {
            hr_content_invalid(r, f, "%s %s", f, why);
            goto done;
        }
    }
    char *text = json_dumps(d, JSON_COMPACT);
    const char *p[2] = {r->auth.environment_id, text};
    int rc = hr_content_query_row(r, "team destinations update", put_sql, 2, p, &doc);
    free(text);
    if (rc > 0) {
        hr_req_reply(r, 200, json_pack("{s:o}", "destinations", doc), NULL);
        doc = NULL;
    }
done:
    json_decref(doc);
    json_decref(body);
}

const hr_route_t hr_routes_team[] = {
    {"GET", "/v1/team-destinations", team_get},
    {"PUT", "/v1/team-destinations", team_put},
    {NULL, NULL, NULL},
};
