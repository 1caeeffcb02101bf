/* tplstore: per-process content cache. Steady state costs one small query
 * per message (the content version, usually read together with the
 * notification); branding, event types and templates are loaded once per
 * content version, and each template part is compiled once. */
#include "tplstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct tplstore_part {
    char *name;
    hr_tpl_t *tpl;
} tplstore_part_t;

static hr_tplstore_env_t *store_envs[HR_TPLSTORE_MAX_ENVS];
static size_t store_nenvs;
static unsigned long long store_clock;
static bool store_atexit;

static const char *const version_sql =
    "SELECT COALESCE((SELECT version FROM content_versions WHERE environment_id = $1), 0)";

static const char *const branding_sql =
    "SELECT company_name, logo_url, primary_color, footer_text, support_email, default_locale"
    " FROM branding WHERE environment_id = $1";

static const char *const type_sql =
    "SELECT COALESCE(et.critical, false), c.key, c.name, c.emoji, c.color,"
    " v.version, v.content::text"
    " FROM (SELECT 1) one"
    " LEFT JOIN event_types et ON et.environment_id = $1 AND et.key = $2"
    " LEFT JOIN categories c ON c.id = et.category_id"
    " LEFT JOIN templates t ON t.environment_id = $1 AND t.key = $2"
    " LEFT JOIN template_versions v ON v.environment_id = $1 AND v.key = $2"
    "  AND v.version = t.published_version";

static void type_free(hr_tplstore_type_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nparts; i++) {
        free(t->parts[i].name);
        hr_tpl_free(t->parts[i].tpl);
    }
    free(t->parts);
    free(t->key);
    json_decref(t->content);
    json_decref(t->category);
    free(t);
}

static void env_drop_content(hr_tplstore_env_t *e)
{
    for (size_t i = 0; i < e->ntypes; i++)
        type_free(e->types[i]);
    free(e->types);
    e->types = NULL;
    e->ntypes = e->typecap = 0;
    json_decref(e->brand);
    e->brand = NULL;
}

static void env_free(hr_tplstore_env_t *e)
{
    env_drop_content(e);
    free(e);
}

void hr_tplstore_clear(void)
{
    for (size_t i = 0; i < store_nenvs; i++)
        env_free(store_envs[i]);
    store_nenvs = 0;
}

int hr_tplstore_version(hr_db_t *db, const char *env, long long *version, char *err, size_t errlen)
{
    const char *p[1] = {env};
    PGresult *res = hr_db_exec(db, version_sql, 1, p, err, errlen);
    if (res == NULL)
        return -1;
    *version = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return 0;
}

/* Adds value as key of obj when it is a non-empty string. */
static void set_nonempty(json_t *obj, const char *key, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return;
    const char *v = PQgetvalue(res, row, col);
    if (v[0] != '\0')
        json_object_set_new(obj, key, json_string(v));
}

static int env_load(hr_db_t *db, hr_tplstore_env_t *e, char *err, size_t errlen)
{
    const char *p[1] = {e->id};
    PGresult *res = hr_db_exec(db, branding_sql, 1, p, err, errlen);
    if (res == NULL)
        return -1;
    e->brand = json_object();
    hr_assert(e->brand != NULL);
    snprintf(e->default_locale, sizeof e->default_locale, "en");
    if (PQntuples(res) == 1) {
        static const char *const names[] = {"company_name", "logo_url", "primary_color",
                                            "footer_text", "support_email"};
        for (int i = 0; i < 5; i++)
            set_nonempty(e->brand, names[i], res, 0, i);
        if (PQgetvalue(res, 0, 5)[0] != '\0')
            snprintf(e->default_locale, sizeof e->default_locale, "%s", PQgetvalue(res, 0, 5));
    }
    if (json_object_get(e->brand, "primary_color") == NULL)
        json_object_set_new(e->brand, "primary_color", json_string("#4f46e5"));
    PQclear(res);
    return 0;
}

hr_tplstore_env_t *hr_tplstore_env(hr_db_t *db, const char *env, long long version, char *err,
                                   size_t errlen)
{
    if (!store_atexit) {
        atexit(hr_tplstore_clear);
        store_atexit = true;
    }
    hr_tplstore_env_t *e = NULL;
    for (size_t i = 0; i < store_nenvs; i++)
        if (strcmp(store_envs[i]->id, env) == 0)
            e = store_envs[i];
    if (e != NULL && e->version == version && e->brand != NULL) {
        e->used = ++store_clock;
        return e;
    }
    if (e == NULL) {
        if (store_nenvs == HR_TPLSTORE_MAX_ENVS) {
            size_t lru = 0;
            for (size_t i = 1; i < store_nenvs; i++)
                if (store_envs[i]->used < store_envs[lru]->used)
                    lru = i;
            env_free(store_envs[lru]);
            store_envs[lru] = store_envs[--store_nenvs];
        }
        e = calloc(1, sizeof *e);
        hr_assert(e != NULL);
        snprintf(e->id, sizeof e->id, "%s", env);
        store_envs[store_nenvs++] = e;
    }
    env_drop_content(e);
    e->version = version;
    e->used = ++store_clock;
    if (env_load(db, e, err, errlen) != 0) {
        env_drop_content(e);
        return NULL;
    }
    return e;
}

hr_tplstore_type_t *hr_tplstore_type(hr_db_t *db, hr_tplstore_env_t *e, const char *key, char *err,
                                     size_t errlen)
{
    for (size_t i = 0; i < e->ntypes; i++)
        if (strcmp(e->types[i]->key, key) == 0)
            return e->types[i];
    const char *p[2] = {e->id, key};
    PGresult *res = hr_db_exec(db, type_sql, 2, p, err, errlen);
    if (res == NULL)
        return NULL;
    hr_tplstore_type_t *t = calloc(1, sizeof *t);
    hr_assert(t != NULL);
    t->key = strdup(key);
    hr_assert(t->key != NULL);
    if (PQntuples(res) == 1) {
        t->critical = PQgetvalue(res, 0, 0)[0] == 't';
        if (!PQgetisnull(res, 0, 1)) {
            t->category = json_object();
            static const char *const names[] = {"key", "name", "emoji", "color"};
            for (int i = 0; i < 4; i++)
                set_nonempty(t->category, names[i], res, 0, 1 + i);
        }
        if (!PQgetisnull(res, 0, 5)) {
            t->version = atoi(PQgetvalue(res, 0, 5));
            t->content = json_loads(PQgetvalue(res, 0, 6), 0, NULL);
            if (t->content == NULL)
                t->version = 0;
        }
    }
    PQclear(res);
    if (e->ntypes == e->typecap) {
        e->typecap = e->typecap ? e->typecap * 2 : 8;
        e->types = realloc(e->types, e->typecap * sizeof *e->types);
        hr_assert(e->types != NULL);
    }
    e->types[e->ntypes++] = t;
    return t;
}

const hr_tpl_t *hr_tplstore_part(hr_tplstore_type_t *t, const char *name, const char *src,
                                 hr_tpl_error_t *err)
{
    for (size_t i = 0; i < t->nparts; i++)
        if (strcmp(t->parts[i].name, name) == 0)
            return t->parts[i].tpl;
    hr_tpl_t *tpl = hr_tpl_compile(src, strlen(src), err);
    if (tpl == NULL)
        return NULL;
    if (t->nparts == t->partcap) {
        t->partcap = t->partcap ? t->partcap * 2 : 8;
        t->parts = realloc(t->parts, t->partcap * sizeof *t->parts);
        hr_assert(t->parts != NULL);
    }
    t->parts[t->nparts].name = strdup(name);
    hr_assert(t->parts[t->nparts].name != NULL);
    t->parts[t->nparts++].tpl = tpl;
    return tpl;
}
