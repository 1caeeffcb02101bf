/* room: chained hash tables of rooms (env + user) and environment counters. */
#include "room.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static unsigned room_hash(const char *env, const char *user)
{
    unsigned h = 2166136261u; /* FNV-1a over env, a separator, user */
    for (const char *p = env; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (const char *p = user; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

void hr_rt_rooms_init(hr_rt_rooms_t *rs, size_t nbuckets)
{
    size_t n = 16;
    while (n < nbuckets)
        n *= 2;
    memset(rs, 0, sizeof *rs);
    rs->nbuckets = n;
    rs->buckets = calloc(n, sizeof *rs->buckets);
    rs->ebuckets = calloc(256, sizeof *rs->ebuckets);
    hr_assert(rs->buckets != NULL && rs->ebuckets != NULL);
}

void hr_rt_rooms_free(hr_rt_rooms_t *rs)
{
    for (size_t i = 0; rs->buckets != NULL && i < rs->nbuckets; i++) {
        hr_rt_room_t *r = rs->buckets[i];
        while (r != NULL) {
            hr_rt_room_t *next = r->next;
            for (hr_rt_member_t *m = r->members; m != NULL; m = m->next)
                m->room = NULL;
            free(r);
            r = next;
        }
    }
    for (size_t i = 0; rs->ebuckets != NULL && i < 256; i++) {
        hr_rt_envc_t *e = rs->ebuckets[i];
        while (e != NULL) {
            hr_rt_envc_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(rs->buckets);
    free(rs->ebuckets);
    memset(rs, 0, sizeof *rs);
}

hr_rt_room_t *hr_rt_rooms_find(const hr_rt_rooms_t *rs, const char *env, const char *user)
{
    unsigned h = room_hash(env, user);
    size_t envlen = strlen(env);
    for (hr_rt_room_t *r = rs->buckets[h & (rs->nbuckets - 1)]; r != NULL; r = r->next)
        if (r->hash == h && r->envlen == envlen && memcmp(r->key, env, envlen) == 0 &&
            strcmp(hr_rt_room_user(r), user) == 0)
            return r;
    return NULL;
}

static hr_rt_envc_t **envc_slot(const hr_rt_rooms_t *rs, const char *env)
{
    unsigned h = room_hash(env, "");
    hr_rt_envc_t **pp = &rs->ebuckets[h & 255];
    while (*pp != NULL && strcmp((*pp)->env, env) != 0)
        pp = &(*pp)->next;
    return pp;
}

unsigned hr_rt_rooms_env_count(const hr_rt_rooms_t *rs, const char *env)
{
    hr_rt_envc_t **pp = envc_slot(rs, env);
    return *pp != NULL ? (*pp)->n : 0;
}

hr_rt_join_t hr_rt_rooms_check(const hr_rt_rooms_t *rs, const char *env, const char *user,
                               unsigned max_user, unsigned max_env)
{
    if (max_env > 0 && hr_rt_rooms_env_count(rs, env) >= max_env)
        return HR_RT_JOIN_ENV_FULL;
    const hr_rt_room_t *r = hr_rt_rooms_find(rs, env, user);
    if (max_user > 0 && r != NULL && r->n >= max_user)
        return HR_RT_JOIN_USER_FULL;
    return HR_RT_JOIN_OK;
}

hr_rt_join_t hr_rt_rooms_join(hr_rt_rooms_t *rs, const char *env, const char *user,
                              hr_rt_member_t *m, unsigned max_user, unsigned max_env)
{
    hr_assert(m->room == NULL);
    hr_rt_join_t rc = hr_rt_rooms_check(rs, env, user, max_user, max_env);
    if (rc != HR_RT_JOIN_OK)
        return rc;
    hr_rt_room_t *r = hr_rt_rooms_find(rs, env, user);
    if (r == NULL) {
        size_t envlen = strlen(env), userlen = strlen(user);
        hr_assert(envlen < sizeof((hr_rt_envc_t *)0)->env);
        r = calloc(1, sizeof *r + envlen + userlen + 2);
        hr_assert(r != NULL);
        r->hash = room_hash(env, user);
        r->envlen = envlen;
        r->unread = -1;
        memcpy(r->key, env, envlen + 1);
        memcpy(r->key + envlen + 1, user, userlen + 1);
        hr_rt_envc_t **pp = envc_slot(rs, env);
        if (*pp == NULL) {
            *pp = calloc(1, sizeof **pp);
            hr_assert(*pp != NULL);
            memcpy((*pp)->env, env, envlen + 1);
        }
        r->envc = *pp;
        hr_rt_room_t **b = &rs->buckets[r->hash & (rs->nbuckets - 1)];
        r->next = *b;
        *b = r;
        rs->nrooms++;
    }
    m->room = r;
    m->prev = NULL;
    m->next = r->members;
    if (r->members != NULL)
        r->members->prev = m;
    r->members = m;
    r->n++;
    r->envc->n++;
    rs->nmembers++;
    return HR_RT_JOIN_OK;
}

void hr_rt_rooms_leave(hr_rt_rooms_t *rs, hr_rt_member_t *m)
{
    hr_rt_room_t *r = m->room;
    if (r == NULL)
        return;
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        r->members = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
    m->room = NULL;
    r->n--;
    r->envc->n--;
    rs->nmembers--;
    if (r->n > 0)
        return;
    /* Environment counters stay (one small record per environment seen). */
    hr_rt_room_t **pp = &rs->buckets[r->hash & (rs->nbuckets - 1)];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    rs->nrooms--;
    free(r);
}
