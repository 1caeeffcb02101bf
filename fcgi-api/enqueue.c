/* enqueue: the Lua script of the send path and its caller. */
#include "enqueue.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "channel.h"
#include "jsonutil.h"
#include "log.h"

#define IDEMPOTENCY_TTL_S 86400
#define ITEM_ARGS 4

/* KEYS[1] ingest stream.
 * ARGV: env, pending ttl, idempotency ttl, n, then per item: id, payload,
 * request hash, idempotency key ("" for none).
 * Returns {"ok", outcome1, id1, outcome2, id2, …} with outcome 0 appended,
 * 1 replay, 2 conflict; or {"limited", code, limit, remaining, reset,
 * retry_after} when a limit refused the request (nothing written). */
static hr_redis_script_t enqueue_script = {
    .source =
        "local env, pttl, ittl, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
        "local out, new, seen = {'ok'}, {}, {}\n"
        "for i = 1, n do\n"
        "  local b = 4 + (i - 1) * 4\n"
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
        "for _, i in ipairs(new) do\n"
        "  local b = 4 + (i - 1) * 4\n"
        "  local id, idem = ARGV[b + 1], ARGV[b + 4]\n"
        "  redis.call('XADD', KEYS[1], '*', 'id', id, 'p', ARGV[b + 2])\n"
        "  redis.call('SET', 'herald:pending:' .. id, env, 'EX', pttl)\n"
        "  if idem ~= '' then\n"
        "    redis.call('SET', 'herald:idem:' .. env .. ':' .. idem, id .. ' ' .. ARGV[b + 3], 'EX', ittl)\n"
        "  end\n"
        "end\n"
        "return out\n",
};

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
    size_t nargs = 1 + 4 + n * ITEM_ARGS;
    const char **args = hr_arena_alloc(r->arena, nargs * sizeof *args);
    char pttl[24], ittl[24], count[24];
    snprintf(pttl, sizeof pttl, "%ld", r->app->cfg.api_pending_ttl);
    snprintf(ittl, sizeof ittl, "%d", IDEMPOTENCY_TTL_S);
    snprintf(count, sizeof count, "%zu", n);
    size_t a = 0;
    args[a++] = HR_STREAM_INGEST;
    args[a++] = r->auth.environment_id;
    args[a++] = pttl;
    args[a++] = ittl;
    args[a++] = count;
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
