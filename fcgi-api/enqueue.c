/* enqueue: the Lua script of the send path, its caller, and the one answer
 * every send path gives when it refuses a request. */
#include "enqueue.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "channel.h"
#include "jsonutil.h"
#include "log.h"

#define IDEMPOTENCY_TTL_S 86400
#define ITEM_ARGS 5
#define HEAD_ARGS 11

/* KEYS[1] ingest stream.
 * ARGV: env, pending ttl, idempotency ttl, n, rate limit (0: none), rate
 * window (s), monthly quota (0: none), month (YYYYMM), month end (Unix s),
 * tenant, key id; then per item: id, payload, request hash, idempotency key
 * ("" for none), channels (comma-separated).
 * Returns {"ok", outcome1, id1, outcome2, id2, …} with outcome 0 appended,
 * 1 replay, 2 conflict; {"limited", code, limit, remaining, reset,
 * retry_after} when a limit refused the request; {"revoked"} when the key
 * was revoked or its rotation grace period ended (herald:keyend:<key id>
 * holds when: the process cache may not know yet). A refusal writes
 * nothing. Only requests that append something count against the limits:
 * replays and conflicts are free. */
static hr_redis_script_t enqueue_script = {
    .source =
        "local env, pttl, ittl, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
        "local rl, win, q = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
        "local now = tonumber(redis.call('TIME')[1])\n"
        "local ws = rl > 0 and now - (now % win) or 0\n"
        "local rkey = 'herald:rl:' .. env .. ':' .. ws\n"
        "local qkey = 'herald:quota:' .. ARGV[10] .. ':' .. ARGV[8]\n"
        /* One read for the key's end, the rate window and the quota. */
        "local got = redis.call('MGET', 'herald:keyend:' .. ARGV[11], rkey, qkey)\n"
        "if got[1] and now >= tonumber(got[1]) then return {'revoked'} end\n"
        "local out, new, seen = {'ok'}, {}, {}\n"
        "for i = 1, n do\n"
        "  local b = 11 + (i - 1) * 5\n"
        "  local id, hash, idem = ARGV[b + 1], ARGV[b + 3], ARGV[b + 4]\n"
        "  local outcome, rid = 0, id\n"
        "  if idem ~= '' then\n"
        "    local prev = seen[idem] or redis.call('GET', 'herald:idem:' .. env .. ':' .. idem)\n"
        "    if prev then\n"
        "      local sep = string.find(prev, ' ', 1, true)\n"
        "      rid = string.sub(prev, 1, sep - 1)\n"
        "      outcome = (string.sub(prev, sep + 1) == hash) and 1 or 2\n"
        "    else\n"
        "      seen[idem] = id .. ' ' .. hash\n"
        "    end\n"
        "  end\n"
        "  if outcome == 0 then new[#new + 1] = i end\n"
        "  out[#out + 1] = outcome\n"
        "  out[#out + 1] = rid\n"
        "end\n"
        /* Limits: checked before anything is written, counted only when
         * something is appended. A counter gets its expiry when the script
         * creates it, in the same atomic step. */
        "local nn = #new\n"
        "if nn > 0 then\n"
        "  if rl > 0 and tonumber(got[2] or '0') + 1 > rl then\n"
        "    local reset = ws + win - now\n"
        "    return {'limited', 'rate_limited', rl, 0, reset, reset}\n"
        "  end\n"
        "  local qused = tonumber(got[3] or '0')\n"
        "  if q > 0 and qused + nn > q then\n"
        "    local reset = tonumber(ARGV[9]) - now\n"
        "    if reset < 1 then reset = 1 end\n"
        "    local left = q - qused\n"
        "    if left < 0 then left = 0 end\n"
        "    return {'limited', 'quota_exceeded', q, left, reset, reset}\n"
        "  end\n"
        "  if rl > 0 and redis.call('INCR', rkey) == 1 then redis.call('EXPIRE', rkey, win + 1) end\n"
        "  if redis.call('INCRBY', qkey, nn) == nn then redis.call('EXPIRE', qkey, 34560000) end\n"
        "  local ukey = 'herald:usage:' .. ARGV[10] .. ':' .. ARGV[8]\n"
        "  if redis.call('HINCRBY', ukey, env .. '|notifications', nn) == nn then\n"
        "    redis.call('EXPIRE', ukey, 34560000)\n"
        "  end\n"
        /* One HINCRBY per channel, not per item and channel. */
        "  local per = {}\n"
        "  for _, i in ipairs(new) do\n"
        "    for ch in string.gmatch(ARGV[11 + (i - 1) * 5 + 5], '[^,]+') do\n"
        "      per[ch] = (per[ch] or 0) + 1\n"
        "    end\n"
        "  end\n"
        "  for ch, c in pairs(per) do redis.call('HINCRBY', ukey, env .. '|' .. ch, c) end\n"
        "end\n"
        "for _, i in ipairs(new) do\n"
        "  local b = 11 + (i - 1) * 5\n"
        "  local id, idem = ARGV[b + 1], ARGV[b + 4]\n"
        "  redis.call('XADD', KEYS[1], '*', 'id', id, 'p', ARGV[b + 2])\n"
        "  redis.call('SET', 'herald:pending:' .. id, env, 'EX', pttl)\n"
        "  if idem ~= '' then\n"
        "    redis.call('SET', 'herald:idem:' .. env .. ':' .. idem, id .. ' ' .. ARGV[b + 3], 'EX', ittl)\n"
        "  end\n"
        "end\n"
        "return out\n",
};

void hr_enqueue_plan_limits(const hr_config_t *cfg, const hr_auth_t *auth, long *rate,
                            long long *quota)
{
    if (strcmp(auth->plan, "pro") == 0) {
        *rate = cfg->limits_pro_rate;
        *quota = cfg->limits_pro_quota;
    } else if (strcmp(auth->plan, "custom") == 0) {
        *rate = auth->rate_limit >= 0 ? auth->rate_limit : cfg->limits_custom_rate;
        *quota = auth->quota >= 0 ? auth->quota : cfg->limits_custom_quota;
    } else {
        *rate = cfg->limits_free_rate;
        *quota = cfg->limits_free_quota;
    }
}

void hr_enqueue_month(time_t now, char month[7], time_t *month_end)
{
    struct tm tm;
    gmtime_r(&now, &tm);
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u, mon = (unsigned)tm.tm_mon % 12u + 1u;
    snprintf(month, 7, "%04u%02u", year, mon);
    struct tm next = {0};
    next.tm_year = tm.tm_mon == 11 ? tm.tm_year + 1 : tm.tm_year;
    next.tm_mon = (tm.tm_mon + 1) % 12;
    next.tm_mday = 1;
    *month_end = timegm(&next);
}

/* The channels of a normalised notification, comma-separated (arena). */
static const char *enqueue_channels(hr_req_t *r, const json_t *n)
{
    const json_t *chs = json_object_get(n, "channels");
    size_t i, len = 1;
    const json_t *c;
    json_array_foreach(chs, i, c) len += strlen(json_string_value(c) ? json_string_value(c) : "") + 1;
    char *out = hr_arena_alloc(r->arena, len);
    json_array_foreach(chs, i, c) {
        const char *s = json_string_value(c);
        if (s == NULL || strchr(s, ',') != NULL)
            continue;
        if (out[0] != '\0')
            strcat(out, ",");
        strcat(out, s);
    }
    return out;
}

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Hex BLAKE2b-128 of the normalised request, to tell a replay from a reuse. */
static void request_hash(const json_t *n, char out[33])
{
    char *text = json_dumps(n, JSON_COMPACT | JSON_SORT_KEYS);
    hr_assert(text != NULL);
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), NULL, 0);
    sodium_bin2hex(out, 33, h, sizeof h);
    free(text);
}

hr_enqueue_status_t hr_enqueue(hr_req_t *r, hr_enqueue_item_t *items, size_t n,
                               hr_enqueue_limits_t *limits, char *err, size_t errlen)
{
    memset(limits, 0, sizeof *limits);
    hr_assert(n >= 1 && n <= HR_ENQUEUE_MAX);
    size_t nargs = 1 + HEAD_ARGS + n * ITEM_ARGS;
    const char **args = hr_arena_alloc(r->arena, nargs * sizeof *args);
    char pttl[24], ittl[24], count[24], rate[24], window[24], quota[24], month[7], mend[24];
    long rl = 0;
    long long q = 0;
    time_t month_end = 0;
    hr_enqueue_plan_limits(&r->app->cfg, &r->auth, &rl, &q);
    hr_enqueue_month(time(NULL), month, &month_end);
    snprintf(pttl, sizeof pttl, "%ld", r->app->cfg.api_pending_ttl);
    snprintf(ittl, sizeof ittl, "%d", IDEMPOTENCY_TTL_S);
    snprintf(count, sizeof count, "%zu", n);
    snprintf(rate, sizeof rate, "%ld", rl);
    snprintf(window, sizeof window, "%ld", r->app->cfg.limits_rate_window_s);
    snprintf(quota, sizeof quota, "%lld", q);
    snprintf(mend, sizeof mend, "%lld", (long long)month_end);
    size_t a = 0;
    args[a++] = HR_STREAM_INGEST;
    args[a++] = r->auth.environment_id;
    args[a++] = pttl;
    args[a++] = ittl;
    args[a++] = count;
    args[a++] = rate;
    args[a++] = window;
    args[a++] = quota;
    args[a++] = month;
    args[a++] = mend;
    args[a++] = r->auth.tenant_id;
    args[a++] = r->auth.key_id;
    long long accepted_at = now_ms();
    for (size_t i = 0; i < n; i++) {
        hr_enqueue_item_t *it = &items[i];
        hr_uuid7(it->id);
        char *hash = hr_arena_alloc(r->arena, 33);
        request_hash(it->n, hash);
        json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:I, s:O}", "id", it->id, "env",
                                    r->auth.environment_id, "tenant", r->auth.tenant_id, "req",
                                    r->request_id, "accepted_at", (json_int_t)accepted_at, "n",
                                    it->n);
        hr_assert(payload != NULL);
        char *text = hr_json_dump(payload);
        json_decref(payload);
        args[a++] = it->id;
        args[a++] = hr_arena_strndup(r->arena, text, strlen(text));
        free(text);
        args[a++] = hash;
        args[a++] = it->idem != NULL ? it->idem : "";
        args[a++] = enqueue_channels(r, it->n);
    }
    redisReply *rep = hr_redis_eval(&r->app->redis, &enqueue_script, 1, (int)nargs, args, NULL,
                                    err, errlen);
    hr_enqueue_status_t st = HR_ENQ_UNAVAILABLE;
    if (rep == NULL)
        return st;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "enqueue: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        goto done;
    }
    if (strcmp(rep->element[0]->str, "ok") == 0 && rep->elements == 1 + 2 * n) {
        for (size_t i = 0; i < n; i++) {
            redisReply *o = rep->element[1 + 2 * i], *id = rep->element[2 + 2 * i];
            if (o->type != REDIS_REPLY_INTEGER || id->type != REDIS_REPLY_STRING) {
                snprintf(err, errlen, "enqueue: malformed reply");
                goto done;
            }
            items[i].outcome = (hr_enqueue_outcome_t)o->integer;
            snprintf(items[i].id, sizeof items[i].id, "%s", id->str);
        }
        st = HR_ENQ_OK;
    } else if (strcmp(rep->element[0]->str, "revoked") == 0) {
        st = HR_ENQ_REVOKED;
    } else if (strcmp(rep->element[0]->str, "limited") == 0 && rep->elements == 6) {
        limits->code = strcmp(rep->element[1]->str, "quota_exceeded") == 0 ? "quota_exceeded"
                                                                           : "rate_limited";
        limits->limit = (long)rep->element[2]->integer;
        limits->remaining = (long)rep->element[3]->integer;
        limits->reset_s = (long)rep->element[4]->integer;
        limits->retry_after_s = (long)rep->element[5]->integer;
        st = HR_ENQ_LIMITED;
    } else {
        snprintf(err, errlen, "enqueue: unexpected reply");
    }
done:
    freeReplyObject(rep);
    return st;
}

void hr_enqueue_reply_refused(hr_req_t *r, hr_enqueue_status_t st,
                              const hr_enqueue_limits_t *limits, const char *err)
{
    switch (st) {
    case HR_ENQ_OK:
        hr_assert(!"hr_enqueue_reply_refused: the request was taken");
        break;
    case HR_ENQ_UNAVAILABLE:
        hr_log(HR_LOG_ERROR, r->request_id, "enqueue failed: %s", err);
        hr_req_error(r, 503, "queue_unavailable",
                     "the queue is unreachable; nothing was accepted, try again", NULL);
        break;
    case HR_ENQ_REVOKED:
        hr_req_error(r, 401, "unauthorized", "the API key is not valid", NULL);
        break;
    case HR_ENQ_LIMITED: {
        bool quota = strcmp(limits->code, "quota_exceeded") == 0;
        char *headers = hr_arena_printf(r->arena,
                                        "Retry-After: %ld\r\nRateLimit-Limit: %ld\r\n"
                                        "RateLimit-Remaining: %ld\r\nRateLimit-Reset: %ld\r\n",
                                        limits->retry_after_s, limits->limit, limits->remaining,
                                        limits->reset_s);
        /* When the refusing limit resets: the next window, or the first
         * moment of next month for the quota. */
        time_t reset = time(NULL) + limits->reset_s;
        struct tm tm;
        char when[32];
        gmtime_r(&reset, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *e = json_pack("{s:s, s:s, s:s}", "code", quota ? "quota_exceeded" : "rate_limited",
                              "message",
                              quota ? "the monthly quota is used up; nothing was accepted"
                                    : "too many requests; nothing was accepted, retry later",
                              "reset_at", when);
        hr_assert(e != NULL);
        hr_req_reply(r, 429, json_pack("{s:o}", "error", e), headers);
        break;
    }
    }
}
