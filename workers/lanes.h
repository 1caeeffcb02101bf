/* lanes: threads for the sends whose last step libcurl runs blocking.
 *
 * libcurl's SMTP writes the end of DATA and then waits, inside
 * curl_multi_perform, for the server's reply to it (a queue write and an
 * fsync at a real MTA; a network round trip at a remote one). In the
 * worker's one multi handle every message would stop every other transfer
 * for that wait. A lane is a thread with its own multi handle (its own
 * connection pool: a lane reuses its connections across messages) and its
 * own PostgreSQL connection for the handover mark, so a message's wait
 * holds only its lane. The worker submits prepared jobs and takes them back
 * finished; everything else about a job (gates, results, records) stays in
 * the worker's thread. */
#ifndef HR_LANES_H
#define HR_LANES_H

#include <curl/curl.h>
#include <stddef.h>

#include "db.h"
#include "providers/provider.h"

typedef struct hr_lanes hr_lanes_t;

/* Marks the handover of m on db and leaves its transaction open. Returns 0
 * (marked), or -1 (not marked: nothing left open). Called in a lane. */
typedef int (*hr_lanes_mark_fn)(hr_db_t *db, const hr_message_t *m);

/* n threads, each connecting to PostgreSQL with conninfo when it first
 * marks a handover; wake is woken (curl_multi_wakeup) when a job is done.
 * Returns NULL when a thread could not be started. Free with
 * hr_lanes_free. */
hr_lanes_t *hr_lanes_new(size_t n, const char *conninfo, hr_lanes_mark_fn mark, CURLM *wake);

/* Queues j (prepared: j->easy set up) for the next free lane. Set
 * j->handover_wait = hr_lanes_handover before the provider's prepare. */
void hr_lanes_submit(hr_lanes_t *l, hr_job_t *j);

/* The jobs finished since the last call, linked by next, in the order they
 * finished; each has its transfer's result in lane_rc and lane_status. */
hr_job_t *hr_lanes_take_done(hr_lanes_t *l);

/* hr_job_t.handover_wait of a job run in a lane: marks the handover on the
 * lane's connection and sends its COMMIT, which is read once the end has
 * gone (a kill between the two writes is the only way to lose a message);
 * sets DONE, or REFUSED when it could not be marked. */
void hr_lanes_handover(hr_job_t *j);

/* Stops the threads once the queue is empty (call when nothing is in
 * flight) and frees l. NULL is a no-op. */
void hr_lanes_free(hr_lanes_t *l);

#endif
