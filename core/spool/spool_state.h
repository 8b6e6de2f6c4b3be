/* spool_state: the state and SQL helpers that spool.c (the writer, the group commit, open and close)
 * and spool_housekeep.c (recovery and retention, run by the writer between
 * commits) share. Not for anyone else: the spool's interface is spool.h. */
#ifndef HOOKD_SPOOL_STATE_H
#define HOOKD_SPOOL_STATE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"
#include "spool_ckpt.h"

#define HOUSEKEEP_MS 1000     /* recovery poll and retention pass */

typedef struct rec {
    struct rec *next;
    hookd_attempt a;        /* a.delivery == 0: an enrichment of event `id` */
    char reason[256];
    char id[HOOKD_ID_LEN + 1];
    char *json;
} rec;

enum {
    S_DEDUP_GET, S_DEDUP_PUT, S_EVENT, S_DELIVERY, S_UPDATE, S_ATTEMPT, S_POLL, S_CLAIM,
    S_ORPHAN, S_OLD, S_DEL_ATTEMPTS, S_DEL_DELIVERIES, S_DEL_EVENT, S_DEDUP_OLD, S_VERSION,
    S_ENRICH, S_NEXT_DUE, S_COUNT
};

struct hookd_spool {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    hookd_ckpt *ckpt;         /* NULL: SQLite's autocheckpoint on the writer */
    hookd_runtime *rt;        /* under lock (a reload swaps it); holds a reference */
    hookd_dispatch *dispatch;
    char *path;
    int lock_fd;              /* one daemon per spool (spool_file.c) */
    int64_t run;              /* this process's claim on deliveries */

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    hookd_append *in_head, *in_tail;  /* appends to commit */
    rec *recs, *recs_tail;            /* attempts to record, in order */
    hookd_append *done_head, *done_tail; /* committed or failed, for the loop */
    int stopping, detached;
    int64_t recs_since;               /* monotonic ms of the oldest record waiting */
    atomic_size_t waiting;
    atomic_int failing_pub;           /* `failing`, for other threads */

    uv_async_t async;
    uv_check_t check;         /* hands staged appends to the writer */
    uv_prepare_t prepare;     /* the same, for appends made outside I/O callbacks */
    hookd_append *st_head, *st_tail;  /* loop only: appended this iteration */
    /* writer only */
    int failing;              /* the last commit failed: logged once */
    int gone;                 /* the file was deleted or replaced (spool_gone) */
    dev_t dev;                /* the file opened */
    ino_t ino;
    int64_t retry_recs_at;    /* monotonic ms; records wait after a failure */
    int64_t version;          /* PRAGMA data_version at the last poll */
    int backlog;              /* the last poll stopped at its limit */
    int64_t next_due;         /* Unix ms: the earliest unclaimed pending delivery not yet due */
    int polled;
    uint64_t commits, appended;   /* for the log line at close */
};

/* Writer thread only, like everything below. */
static inline int exec(hookd_spool *sp, const char *sql)
{
    return sqlite3_exec(sp->db, sql, NULL, NULL, NULL);
}

static inline int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static inline void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static inline void rollback(hookd_spool *sp)
{
    if (!sqlite3_get_autocommit(sp->db))
        exec(sp, "ROLLBACK");
}

/* Takes pending deliveries nobody holds (a previous run's, or replayed ones)
 * into the dispatcher, as far as dispatch.queue allows. */
void hookd_spool_poll(hookd_spool *sp, hookd_runtime *rt);
/* Deletes a batch of events past retention whose deliveries all succeeded,
 * and dedup keys past every source's window. */
void hookd_spool_purge(hookd_spool *sp, const hookd_runtime *rt);

#endif
