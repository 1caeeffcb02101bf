/* render: what one message says on one channel. The environment's published
 * template for the event type, channel and locale (user's locale, then its
 * language, then the environment's default locale, then the locale-less
 * variant), part by part, falling back to the built-in branded layout for
 * any part the template does not define; rendered with the notification's
 * fields, data, event fields, the environment's branding and the event
 * type's category. The same function serves the worker (what is sent) and
 * the preview endpoint (what would be sent). */
#ifndef HR_RENDER_H
#define HR_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "channel.h"
#include "db.h"
#include "tpl.h"

/* A rendered message; every string is malloc'd ("" when the channel has no
 * such part) and freed by hr_rendered_free. Which parts a channel uses:
 *   email             subject, html, text
 *   sms, whatsapp     text (title/body also set)
 *   telegram, discord, slack
 *                     text (the whole message, category emoji first), title
 *                     (embed title), body (embed description), fields, color
 *   in_app            title, body, action_url
 *   webhook           title, body */
typedef struct hr_rendered {
    char *subject, *html, *text;
    char *title, *body, *action_url;
    char *emoji, *color; /* the event type's category ("" when none) */
    json_t *fields;      /* [{"name","value"}] of the event's fields (chat embeds) */
    char locale[36];     /* locale of the template variant used ("" none) */
    int version;         /* template version used, 0: built-in layout only */
    bool own_text;       /* text came from the tenant's template, not the built-in
                          * layout: chat providers send it as the whole message */
} hr_rendered_t;

/* What to render. Only environment_id, channel and type are required. */
typedef struct hr_render_in {
    const char *environment_id;
    hr_channel_t channel;
    const char *type; /* event type = template key */
    const char *title, *body;
    const json_t *data;        /* object, or NULL */
    const json_t *user;        /* {"id","email","phone","locale"}, or NULL */
    const json_t *event;       /* {"fields","description","category","team"}, or NULL */
    const json_t *draft;       /* template content to use instead of the published one */
    int draft_version;         /* version number reported for draft */
    long long content_version; /* -1: read it; else as read with the notification */
} hr_render_in_t;

/* Where a render failed. */
typedef struct hr_render_error {
    bool template_error; /* the template is at fault (a 422), not the database */
    char part[96];       /* e.g. "locales.fr.email.html" */
    hr_tpl_error_t tpl;
    char msg[256];
} hr_render_error_t;

/* Renders in into out (zeroed first). Returns 0; or -1 with err (database
 * unreachable, or template_error set when a part fails to render, e.g. a
 * limit). The caller frees out with hr_rendered_free in every case. */
int hr_render(hr_db_t *db, const hr_render_in_t *in, hr_rendered_t *out, hr_render_error_t *err)
    __attribute__((warn_unused_result));

/* For the worker: renders the stored notification notification_id (its
 * recipient locale and event extras are read in the same query as the
 * content version) for channel ch. A template that fails at render time
 * falls back to the built-in layout (logged). Returns 0, or -1 with err
 * when the database cannot be asked (retry later). Free out with
 * hr_rendered_free. */
int hr_render_for_channel(hr_db_t *db, const char *environment_id, const char *notification_id,
                          hr_channel_t ch, const char *type, const char *title, const char *body,
                          const json_t *data, hr_rendered_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* What hr_render_for_channel reads of a stored notification n (the recipient
 * with its user's stored locale, the event, the content version), as select
 * expressions over n with end_users u joined by HR_RENDER_STORED_JOIN. A
 * caller that reads the notification anyway (the worker's claim) selects
 * them too and renders with hr_render_stored: no round trip per message. */
#define HR_RENDER_STORED_COLUMNS                                                            \
    "(CASE WHEN u.locale IS NULL OR n.recipient ? 'locale' THEN n.recipient"               \
    "   ELSE n.recipient || jsonb_build_object('locale', u.locale) END)::text,"            \
    " COALESCE(n.event::text, ''),"                                                        \
    " COALESCE((SELECT version FROM content_versions c WHERE c.environment_id = n.environment_id), 0)"
#define HR_RENDER_STORED_JOIN                                                               \
    " LEFT JOIN end_users u ON u.environment_id = n.environment_id AND u.user_id = n.user_id"

/* hr_render_for_channel with those three columns already read (recipient
 * and event as JSON text, "" for none; content_version as read). */
int hr_render_stored(hr_db_t *db, const char *environment_id, const char *notification_id,
                     hr_channel_t ch, const char *type, const char *title, const char *body,
                     const json_t *data, const char *recipient, const char *event,
                     long long content_version, hr_rendered_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void hr_rendered_free(hr_rendered_t *r);

/* The title and body a provider that reads nothing else should send on
 * channel ch: email subject and text part; sms/whatsapp title and text;
 * others title and body. Pointers into r. */
void hr_rendered_title_body(const hr_rendered_t *r, hr_channel_t ch, const char **title,
                            const char **body);

/* Checks template content as stored by PUT /v1/templates/{key}:
 * {"channels": {CHANNEL: {PART: "mustache"}}, "locales": {LOCALE: {CHANNEL:
 * {...}}}, "sample": {...}}. Every part must compile. Returns 0, or -1 with
 * err (err->part names the field; err->tpl holds line and column of a
 * template that does not parse). */
int hr_render_check_content(const json_t *content, hr_render_error_t *err)
    __attribute__((warn_unused_result));

/* Locale tags accepted: "en", "pt-BR", "zh-Hant-TW" (letters and digits in
 * dash-separated pieces, first piece 2-3 letters, at most 35 characters). */
bool hr_render_locale_valid(const char *s);

/* The render context of in (variables templates see); exposed for tests.
 * brand and category may be NULL. Caller decrefs. */
json_t *hr_render_context(const hr_render_in_t *in, const json_t *brand, const json_t *category,
                          const char *locale);

/* The fallback chain of a user locale: "pt-BR" with default "en" gives
 * "pt-BR", "pt", "en", "" (the locale-less variant). Writes up to max
 * entries of len bytes into out; returns how many. Exposed for tests. */
size_t hr_render_locale_chain(const char *user_locale, const char *default_locale, char out[][36],
                              size_t max);

#endif
