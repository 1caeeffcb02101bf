/* fanreply: hiredis reply objects built in reusable blocks instead of one
 * malloc per object, for the fan-out reader's connection (fanout.c). Every
 * gateway parses every herald:rt event, about a dozen reply objects each;
 * with hiredis's default functions that allocation churn was most of the
 * reader thread's CPU. Unit-tested on its own (tests/unit/test_rt_fanreply.c). */
#ifndef HR_RT_FANREPLY_H
#define HR_RT_FANREPLY_H

#include <hiredis/hiredis.h>

/* The blocks; zero-initialise it. Reader thread only. */
typedef struct hr_rt_fanarena {
    struct hr_rt_fanblock *first, *cur;
} hr_rt_fanarena_t;

/* Makes reader build its replies (the same redisReply trees) in a. A reply
 * then lives until the next hr_rt_fanarena_reset(a): never pass it to
 * freeReplyObject(). Call again after each (re)connect, on the new reader. */
void hr_rt_fanarena_attach(hr_rt_fanarena_t *a, redisReader *reader);

/* Done with the replies built so far: their memory is reused. */
void hr_rt_fanarena_reset(hr_rt_fanarena_t *a);

/* Frees the blocks (after the reader is gone or detached). */
void hr_rt_fanarena_free(hr_rt_fanarena_t *a);

#endif
