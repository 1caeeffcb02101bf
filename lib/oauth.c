/* oauth: provider table, authorize URL, code exchange and identity lookup. */
#include "oauth.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define OAUTH_MAX_RESPONSE (256 * 1024)

int hr_oauth_provider(const hr_config_t *cfg, const char *name, hr_oauth_provider_t *p)
{
    memset(p, 0, sizeof *p);
    if (strcmp(name, "github") == 0) {
        *p = (hr_oauth_provider_t){"github", cfg->oauth_github_client_id,
                                   cfg->oauth_github_client_secret, cfg->oauth_github_authorize_url,
                                   cfg->oauth_github_token_url, cfg->oauth_github_userinfo_url,
                                   "read:user user:email"};
    } else if (strcmp(name, "google") == 0) {
        *p = (hr_oauth_provider_t){"google", cfg->oauth_google_client_id,
                                   cfg->oauth_google_client_secret, cfg->oauth_google_authorize_url,
                                   cfg->oauth_google_token_url, cfg->oauth_google_userinfo_url,
                                   "openid email profile"};
    } else {
        return -1;
    }
    return p->client_id[0] != '\0' ? 0 : -1;
}

char *hr_oauth_authorize_url(const hr_oauth_provider_t *p, const char *redirect_uri,
                             const char *state)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    char *id = curl_easy_escape(c, p->client_id, 0);
    char *ru = curl_easy_escape(c, redirect_uri, 0);
    char *sc = curl_easy_escape(c, p->scope, 0);
    char *st = curl_easy_escape(c, state, 0);
    char *out = NULL;
    if (id && ru && sc && st &&
        asprintf(&out, "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s",
                 p->authorize_url, strchr(p->authorize_url, '?') ? "&" : "?", id, ru, sc,
                 st) < 0)
        out = NULL;
    curl_free(id);
    curl_free(ru);
    curl_free(sc);
    curl_free(st);
    curl_easy_cleanup(c);
    return out;
}

static size_t oauth_write(char *data, size_t size, size_t n, void *user)
{
    hr_buf_t *b = user;
    if (b->len + size * n > OAUTH_MAX_RESPONSE)
        return 0;
    hr_buf_append(b, data, size * n);
    return size * n;
}

/* One request; returns the parsed JSON body of a 2xx answer (caller decrefs)
 * or NULL with err. form: POST body, or NULL for GET. */
static json_t *oauth_call(const char *url, const char *form, const char *bearer, long timeout_ms,
                          char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "curl init failed");
        return NULL;
    }
    hr_buf_t body = HR_BUF_INIT;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    h = curl_slist_append(h, "User-Agent: Herald");
    char *auth = NULL;
    if (bearer != NULL && asprintf(&auth, "Authorization: Bearer %s", bearer) > 0)
        h = curl_slist_append(h, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, oauth_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    if (form != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *doc = NULL;
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(err, errlen, "%s answered %ld", url, status);
    else if ((doc = json_loadb(body.data ? body.data : "", body.len, 0, NULL)) == NULL ||
             !(json_is_object(doc) || json_is_array(doc))) {
        json_decref(doc);
        doc = NULL;
        snprintf(err, errlen, "%s answered no JSON", url);
    }
    if (auth != NULL) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    hr_buf_free(&body);
    return doc;
}

static void oauth_copy(char *dst, size_t n, const json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, n, "%lld", (long long)json_integer_value(v));
}

/* GitHub: /user gives id, login, name; /user/emails tells which address is
 * primary and verified. */
static int oauth_github(const hr_oauth_provider_t *p, const char *token, long timeout_ms,
                        hr_oauth_identity_t *out, char *err, size_t errlen)
{
    json_t *user = oauth_call(p->userinfo_url, NULL, token, timeout_ms, err, errlen);
    if (user == NULL)
        return -1;
    oauth_copy(out->subject, sizeof out->subject, json_object_get(user, "id"));
    oauth_copy(out->name, sizeof out->name, json_object_get(user, "name"));
    if (out->name[0] == '\0')
        oauth_copy(out->name, sizeof out->name, json_object_get(user, "login"));
    json_decref(user);
    char url[HR_CFG_STRLEN + 16];
    snprintf(url, sizeof url, "%s/emails", p->userinfo_url);
    json_t *emails = oauth_call(url, NULL, token, timeout_ms, err, errlen);
    if (emails == NULL)
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(emails, i, e) {
        if (json_is_true(json_object_get(e, "primary"))) {
            oauth_copy(out->email, sizeof out->email, json_object_get(e, "email"));
            out->email_verified = json_is_true(json_object_get(e, "verified"));
        }
    }
    json_decref(emails);
    return 0;
}

static int oauth_google(const hr_oauth_provider_t *p, const char *token, long timeout_ms,
                        hr_oauth_identity_t *out, char *err, size_t errlen)
{
    json_t *user = oauth_call(p->userinfo_url, NULL, token, timeout_ms, err, errlen);
    if (user == NULL)
        return -1;
    oauth_copy(out->subject, sizeof out->subject, json_object_get(user, "sub"));
    oauth_copy(out->email, sizeof out->email, json_object_get(user, "email"));
    oauth_copy(out->name, sizeof out->name, json_object_get(user, "name"));
    out->email_verified = json_is_true(json_object_get(user, "email_verified"));
    json_decref(user);
    return 0;
}

int hr_oauth_exchange(const hr_oauth_provider_t *p, const char *code, const char *redirect_uri,
                      long timeout_ms, hr_oauth_identity_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "curl init failed");
        return -1;
    }
    char *ecode = curl_easy_escape(c, code, 0), *eru = curl_easy_escape(c, redirect_uri, 0);
    char *eid = curl_easy_escape(c, p->client_id, 0);
    char *esec = curl_easy_escape(c, p->client_secret, 0);
    char *form = NULL;
    if (ecode == NULL || eru == NULL || eid == NULL || esec == NULL ||
        asprintf(&form,
                 "grant_type=authorization_code&code=%s&redirect_uri=%s&client_id=%s"
                 "&client_secret=%s",
                 ecode, eru, eid, esec) < 0)
        form = NULL;
    curl_free(ecode);
    curl_free(eru);
    curl_free(eid);
    if (esec != NULL) {
        memset(esec, 0, strlen(esec));
        curl_free(esec);
    }
    curl_easy_cleanup(c);
    if (form == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_t *tok = oauth_call(p->token_url, form, NULL, timeout_ms, err, errlen);
    memset(form, 0, strlen(form));
    free(form);
    if (tok == NULL)
        return -1;
    const char *access = json_string_value(json_object_get(tok, "access_token"));
    int rc = -1;
    if (access == NULL || access[0] == '\0')
        snprintf(err, errlen, "%s gave no access_token", p->token_url);
    else if (strcmp(p->name, "github") == 0)
        rc = oauth_github(p, access, timeout_ms, out, err, errlen);
    else
        rc = oauth_google(p, access, timeout_ms, out, err, errlen);
    json_decref(tok);
    if (rc == 0 && (out->subject[0] == '\0' || out->email[0] == '\0')) {
        snprintf(err, errlen, "%s gave no user id or email", p->name);
        rc = -1;
    }
    return rc;
}
