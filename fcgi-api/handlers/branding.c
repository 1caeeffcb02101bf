/* branding: GET|PUT /v1/branding — the environment's company name, logo,
 * primary colour, footer text, support address and default locale, which
 * every template sees as {{brand.*}}. A change applies to every message
 * rendered after it (the content version is bumped by a trigger). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "content.h"
#include "handlers.h"
#include "log.h"
#include "notification.h"
#include "render.h"

static const char *const get_sql =
    "SELECT json_build_object('company_name', company_name, 'logo_url', logo_url,"
    " 'primary_color', primary_color, 'footer_text', footer_text,"
    " 'support_email', support_email, 'default_locale', default_locale,"
    " 'updated_at', herald_ts(updated_at))::text"
    " FROM branding WHERE environment_id = $1";

/* NULL parameters keep the stored value. */
static const char *const put_sql =
    "WITH up AS (INSERT INTO branding AS b (environment_id, company_name, logo_url, primary_color,"
    "  footer_text, support_email, default_locale)"
    " VALUES ($1, COALESCE($2, ''), COALESCE($3, ''), COALESCE($4, '#4f46e5'), COALESCE($5, ''),"
    "  COALESCE($6, ''), COALESCE($7, 'en'))"
    " ON CONFLICT (environment_id) DO UPDATE SET"
    "  company_name = COALESCE($2, b.company_name), logo_url = COALESCE($3, b.logo_url),"
    "  primary_color = COALESCE($4, b.primary_color), footer_text = COALESCE($5, b.footer_text),"
    "  support_email = COALESCE($6, b.support_email),"
    "  default_locale = COALESCE($7, b.default_locale), updated_at = now()"
    " RETURNING *)"
    "SELECT json_build_object('company_name', company_name, 'logo_url', logo_url,"
    " 'primary_color', primary_color, 'footer_text', footer_text,"
    " 'support_email', support_email, 'default_locale', default_locale,"
    " 'updated_at', herald_ts(updated_at))::text FROM up";

static void branding_get(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[1] = {r->auth.environment_id};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "branding read", get_sql, 1, p, &doc);
    if (rc < 0)
        return;
    if (rc == 0)
        doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n}", "company_name", "", "logo_url", "",
                        "primary_color", "#4f46e5", "footer_text", "", "support_email", "",
                        "default_locale", "en", "updated_at");
    hr_req_reply(r, 200, doc, NULL);
}

static bool color_valid(const char *s)
{
    if (strlen(s) != 7 || s[0] != '#')
        return false;
    for (int i = 1; i < 7; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool url_valid(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '<' || *p == '>' || *p == 0x7f)
            return false;
    return strlen(s) > 8;
}

static void branding_put(hr_req_t *r)
{
    static const char *const fields[] = {
        "company_name",   "logo_url", "primary_color", "footer_text", "support_email",
        "default_locale", NULL};
    json_t *body = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    const char *v[6] = {NULL};
    static const size_t max[6] = {200, 2000, 7, 2000, 254, 35};
    if (hr_content_known(r, body, fields) != 0)
        goto done;
    for (int i = 0; i < 6; i++)
        if (hr_content_string(r, body, fields[i], max[i], &v[i]) < 0)
            goto done;
    if (v[1] != NULL && v[1][0] != '\0' && !url_valid(v[1])) {
        hr_content_invalid(r, "logo_url", "logo_url must be an http:// or https:// URL");
        goto done;
    }
    if (v[2] != NULL && !color_valid(v[2])) {
        hr_content_invalid(r, "primary_color", "primary_color must be a colour like #4f46e5");
        goto done;
    }
    if (v[4] != NULL && v[4][0] != '\0' && !hr_valid_email(v[4])) {
        hr_content_invalid(r, "support_email", "support_email is not a valid email address");
        goto done;
    }
    if (v[5] != NULL && !hr_render_locale_valid(v[5])) {
        hr_content_invalid(r, "default_locale",
                           "default_locale must be a locale tag such as en, fr or pt-BR");
        goto done;
    }
    const char *p[7] = {r->auth.environment_id, v[0], v[1], v[2], v[3], v[4], v[5]};
    json_t *doc = NULL;
    if (hr_content_query_row(r, "branding update", put_sql, 7, p, &doc) > 0)
        hr_req_reply(r, 200, doc, NULL);
done:
    json_decref(body);
}

const hr_route_t hr_routes_branding[] = {
    {"GET", "/v1/branding", branding_get},
    {"PUT", "/v1/branding", branding_put},
    {NULL, NULL, NULL},
};
