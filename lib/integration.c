/* integration: loading, opening and caching of provider integrations. */
#include "integration.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "log.h"

hr_integration_t *hr_integration_ref(hr_integration_t *in)
{
    if (in != NULL)
        in->refs++;
    return in;
}

void hr_integration_unref(hr_integration_t *in)
{
    if (in == NULL || --in->refs > 0)
        return;
    json_decref(in->credentials);
    json_decref(in->settings);
    free(in);
}

static const char *obj_str(const json_t *o, const char *key, const char *def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : def;
}

const char *hr_integration_cred(const hr_integration_t *in, const char *key, const char *def)
{
    return in != NULL ? obj_str(in->credentials, key, def) : def;
}

const char *hr_integration_setting(const hr_integration_t *in, const char *key, const char *def)
{
    return in != NULL ? obj_str(in->settings, key, def) : def;
}

long hr_integration_setting_int(const hr_integration_t *in, const char *key, long def)
{
    const json_t *v = in != NULL ? json_object_get(in->settings, key) : NULL;
    return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

void hr_integration_cache_init(hr_integration_cache_t *c, hr_channel_t ch)
{
    memset(c, 0, sizeof *c);
    c->channel = ch;
}

static ssize_t cache_find(hr_integration_cache_t *c, const char *env)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i]->environment_id, env) == 0)
            return (ssize_t)i;
    return -1;
}

static void cache_drop(hr_integration_cache_t *c, size_t i)
{
    hr_integration_unref(c->items[i]);
    c->items[i] = c->items[--c->n];
}

/* Opens one row; NULL when its credentials do not open. */
static hr_integration_t *integration_row(hr_integration_cache_t *c, PGresult *res, int row)
{
    size_t len = 0;
    unsigned char *plain = hr_crypto_open(PQgetvalue(res, row, 2), &len);
    if (plain == NULL) {
        hr_log_json(HR_LOG_ERROR, NULL, "integration credentials cannot be opened",
                    json_pack("{s:s, s:s}", "environment_id", PQgetvalue(res, row, 0), "channel",
                              hr_channel_name(c->channel)));
        return NULL;
    }
    json_t *cred = json_loadb((const char *)plain, len, 0, NULL);
    hr_crypto_free_secret(plain, len);
    hr_integration_t *in = calloc(1, sizeof *in);
    hr_assert(in != NULL);
    snprintf(in->environment_id, sizeof in->environment_id, "%s", PQgetvalue(res, row, 0));
    in->channel = c->channel;
    snprintf(in->provider, sizeof in->provider, "%s", PQgetvalue(res, row, 1));
    in->credentials = json_is_object(cred) ? cred : json_object();
    if (!json_is_object(cred))
        json_decref(cred);
    json_t *settings = json_loads(PQgetvalue(res, row, 3), 0, NULL);
    in->settings = json_is_object(settings) ? settings : json_object();
    if (!json_is_object(settings))
        json_decref(settings);
    snprintf(in->updated_at, sizeof in->updated_at, "%s", PQgetvalue(res, row, 4));
    snprintf(in->hook_secret, sizeof in->hook_secret, "%s", PQgetvalue(res, row, 5));
    in->refs = 1;
    return in;
}

int hr_integration_cache_load(hr_integration_cache_t *c, hr_db_t *db, const char *const *envs,
                              size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    hr_buf_t arr = HR_BUF_INIT;
    hr_buf_puts(&arr, "{");
    for (size_t i = 0; i < n; i++)
        hr_buf_printf(&arr, "%s%s", i ? "," : "", envs[i]);
    hr_buf_puts(&arr, "}");
    const char *p[2] = {hr_channel_name(c->channel), arr.data};
    PGresult *res = hr_db_exec(db,
                               "SELECT environment_id, provider, credentials, settings::text,"
                               " updated_at::text, COALESCE(hook_secret, '') FROM integrations"
                               " WHERE channel = $1 AND environment_id = ANY($2::uuid[])",
                               2, p, err, errlen);
    if (res == NULL) {
        hr_buf_free(&arr);
        return -1;
    }
    /* Environments asked for and not returned have no integration. */
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (int r = 0; r < PQntuples(res) && !found; r++)
            found = strcmp(PQgetvalue(res, r, 0), envs[i]) == 0;
        ssize_t k = cache_find(c, envs[i]);
        if (!found && k >= 0)
            cache_drop(c, (size_t)k);
    }
    for (int r = 0; r < PQntuples(res); r++) {
        const char *env = PQgetvalue(res, r, 0);
        ssize_t k = cache_find(c, env);
        if (k >= 0 && strcmp(c->items[k]->updated_at, PQgetvalue(res, r, 4)) == 0 &&
            strcmp(c->items[k]->provider, PQgetvalue(res, r, 1)) == 0)
            continue;
        if (k >= 0)
            cache_drop(c, (size_t)k);
        hr_integration_t *in = integration_row(c, res, r);
        if (in == NULL)
            continue;
        if (c->n == HR_INTEGRATION_CACHE_MAX)
            cache_drop(c, 0);
        c->items[c->n++] = in;
    }
    PQclear(res);
    hr_buf_free(&arr);
    return 0;
}

hr_integration_t *hr_integration_cache_get(hr_integration_cache_t *c, const char *env)
{
    ssize_t k = cache_find(c, env);
    return k >= 0 ? c->items[k] : NULL;
}

void hr_integration_cache_free(hr_integration_cache_t *c)
{
    while (c->n > 0)
        cache_drop(c, c->n - 1);
}
