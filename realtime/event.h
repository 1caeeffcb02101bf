/* event: what the gateway sends. Event ids (Redis stream ids "<ms>-<seq>"),
 * reference-counted messages framed once for WebSocket and once for SSE and
 * shared by every connection they go to, and the bounded per-connection
 * queue of such messages. No I/O here: unit-tested on its own. */
#ifndef HR_RT_EVENT_H
#define HR_RT_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A stream entry id; {0, 0} means none. */
typedef struct hr_rt_id {
    uint64_t ms, seq;
} hr_rt_id_t;

/* Parses "<ms>-<seq>" (or "<ms>", seq 0). Returns 0, or -1 if malformed. */
int hr_rt_id_parse(const char *s, hr_rt_id_t *out) __attribute__((warn_unused_result));

/* Orders two ids: <0, 0, >0. */
int hr_rt_id_cmp(hr_rt_id_t a, hr_rt_id_t b);

/* Writes "<ms>-<seq>" into out (at least 42 bytes). */
void hr_rt_id_format(hr_rt_id_t id, char *out, size_t len);

enum {
    HR_RT_MSG_CLOSE = 1, /* close the connection once this message is written */
};

/* One event, framed for both transports. ws points at the text of a
 * WebSocket message and sse at its SSE frame ("id: …\ndata: …\n\n"), each
 * with `pre` writable bytes before it (lws needs LWS_PRE). */
typedef struct hr_rt_msg {
    int refs;
    int flags;
    hr_rt_id_t id;
    size_t ws_len, sse_len;
    unsigned char *ws;
    unsigned char *sse;
    unsigned char mem[];
} hr_rt_msg_t;

/* Frames payload (a JSON object, as published, without "id") with event id
 * id (NULL: no id) and unread count extraction left to the caller. Returns a
 * message with one reference (caller releases with hr_rt_msg_unref), or NULL
 * when payload is not a JSON object text. */
hr_rt_msg_t *hr_rt_msg_new(const char *id, const char *payload, size_t len, size_t pre);

/* Same from a jansson object (reference kept by the caller). */
hr_rt_msg_t *hr_rt_msg_json(const char *id, const json_t *event, size_t pre);

void hr_rt_msg_ref(hr_rt_msg_t *m);
void hr_rt_msg_unref(hr_rt_msg_t *m);

/* A connection's queue: a FIFO of message references, bounded by the
 * caller's limit. Memory is only used while messages wait. */
typedef struct hr_rt_qnode {
    struct hr_rt_qnode *next;
    hr_rt_msg_t *msg;
} hr_rt_qnode_t;

typedef struct hr_rt_queue {
    hr_rt_qnode_t *head, *tail;
    unsigned len;
} hr_rt_queue_t;

/* Appends a reference to m unless the queue already holds max messages
 * (max 0: no limit). Returns 0, or -1 when full (m untouched). */
int hr_rt_queue_push(hr_rt_queue_t *q, hr_rt_msg_t *m, unsigned max)
    __attribute__((warn_unused_result));

/* The oldest message (still owned by the queue), or NULL. */
hr_rt_msg_t *hr_rt_queue_peek(const hr_rt_queue_t *q);

/* Drops the oldest message. */
void hr_rt_queue_pop(hr_rt_queue_t *q);

/* Drops every message. */
void hr_rt_queue_clear(hr_rt_queue_t *q);

/* "type" and "unread_count" of a payload without parsing it all: the type
 * into type (empty if absent), the count into *unread (-1 if absent). */
void hr_rt_payload_peek(const char *payload, char *type, size_t typelen, long *unread);

#endif
