/* member_auth: authenticating a dashboard member's access token, and
 * requests that accept either a member session or an API key. */
#ifndef HR_API_MEMBER_AUTH_H
#define HR_API_MEMBER_AUTH_H

#include <stdbool.h>

#include "app.h"
#include "session.h"

/* Who a request acts for. A member acts for the whole tenant; an API key for
 * its own environment only (environment_id set). */
typedef struct hr_scope {
    bool member;
    char tenant_id[HR_UUID_STRLEN];
    char environment_id[HR_UUID_STRLEN]; /* API key only */
    hr_session_t session;                /* member only */
} hr_scope_t;

/* Authenticates the member's access token (Authorization: Bearer <JWT>):
 * signature, expiry, and a session that was not logged out. Returns 0, or -1
 * after replying 401/503. */
int hr_req_member(hr_req_t *r, hr_session_t *out) __attribute__((warn_unused_result));

/* Accepts an API key (hk_…) or a member's access token. Returns 0, or -1
 * after replying. */
int hr_req_scope(hr_req_t *r, hr_scope_t *out) __attribute__((warn_unused_result));

/* Reads the JSON object body of r (415/413/400/422 answered on failure).
 * Returns the object (caller decrefs) or NULL after replying. An empty body
 * is an empty object when allow_empty. */
json_t *hr_req_json_object(hr_req_t *r, bool allow_empty);

/* Checks that obj has only members named in allowed (NULL-terminated);
 * replies 422 naming the first other one. Returns 0 or -1. */
int hr_req_only_fields(hr_req_t *r, const json_t *obj, const char *const *allowed)
    __attribute__((warn_unused_result));

/* A required or optional string member: 1..max characters, no control
 * characters. Returns 0 with *out (NULL when optional and absent), or -1 after
 * a 422 naming the field. */
int hr_req_string_field(hr_req_t *r, const json_t *obj, const char *name, bool required,
                        size_t max, const char **out) __attribute__((warn_unused_result));

/* The optional "grace_seconds" member of a rotation (0..30 days), or
 * [accounts] key_grace_s when absent. Returns 0 with *out, or -1 after a 422
 * naming it. */
int hr_req_grace_seconds(hr_req_t *r, const json_t *obj, long *out)
    __attribute__((warn_unused_result));

/* The client address nginx saw (REMOTE_ADDR), or "unknown". */
const char *hr_req_client_ip(hr_req_t *r);

#endif
