/* room: one room per environment + user; every connection (tab) of that
 * user on this gateway is a member. Also counts connections per environment
 * for the per-environment limit. Pure bookkeeping, unit-tested on its own. */
#ifndef HR_RT_ROOM_H
#define HR_RT_ROOM_H

#include <stddef.h>

struct hr_rt_room;

/* Embedded in each connection's per-session data. */
typedef struct hr_rt_member {
    struct hr_rt_member *prev, *next;
    struct hr_rt_room *room; /* NULL while not in a room */
} hr_rt_member_t;

typedef struct hr_rt_envc {
    struct hr_rt_envc *next;
    unsigned n;
    char env[40];
} hr_rt_envc_t;

typedef struct hr_rt_room {
    struct hr_rt_room *next; /* hash chain */
    hr_rt_envc_t *envc;
    hr_rt_member_t *members;
    unsigned n;
    long unread;             /* last unread count seen, -1 unknown */
    unsigned hash;
    size_t envlen;
    char key[];              /* "<env>\0<user>\0" */
} hr_rt_room_t;

typedef struct hr_rt_rooms {
    hr_rt_room_t **buckets;
    hr_rt_envc_t **ebuckets;
    size_t nbuckets;         /* a power of two */
    size_t nrooms;
    size_t nmembers;
} hr_rt_rooms_t;

typedef enum {
    HR_RT_JOIN_OK = 0,
    HR_RT_JOIN_USER_FULL,    /* the user holds max_user connections */
    HR_RT_JOIN_ENV_FULL,     /* the environment holds max_env connections */
} hr_rt_join_t;

/* nbuckets is rounded up to a power of two. */
void hr_rt_rooms_init(hr_rt_rooms_t *rs, size_t nbuckets);

/* Frees every room (members are the caller's: they are only unlinked). */
void hr_rt_rooms_free(hr_rt_rooms_t *rs);

/* The room of env + user, or NULL. */
hr_rt_room_t *hr_rt_rooms_find(const hr_rt_rooms_t *rs, const char *env, const char *user);

/* Whether one more connection of env + user fits the limits (0: none). */
hr_rt_join_t hr_rt_rooms_check(const hr_rt_rooms_t *rs, const char *env, const char *user,
                               unsigned max_user, unsigned max_env);

/* Puts m (not in a room) into env + user's room, creating it; checks the
 * limits first. */
hr_rt_join_t hr_rt_rooms_join(hr_rt_rooms_t *rs, const char *env, const char *user,
                              hr_rt_member_t *m, unsigned max_user, unsigned max_env);

/* Takes m out of its room (no-op when in none); frees an emptied room. */
void hr_rt_rooms_leave(hr_rt_rooms_t *rs, hr_rt_member_t *m);

/* Connections of env on this gateway. */
unsigned hr_rt_rooms_env_count(const hr_rt_rooms_t *rs, const char *env);

/* The environment and user of a room. */
static inline const char *hr_rt_room_env(const hr_rt_room_t *r) { return r->key; }
static inline const char *hr_rt_room_user(const hr_rt_room_t *r) { return r->key + r->envlen + 1; }

#endif
