/* spool_sqlite: the SQLite driver's state and SQL helpers, shared by
 * spool_sqlite.c (store, record, commit, open and close) and
 * spool_sqlite_housekeep.c (recovery and retention). Not for anyone else:
 * the driver's interface is spool_driver.h. Everything here runs on the
 * spool's writer thread (open excepted). */
#ifndef HOOKD_SPOOL_SQLITE_H
#define HOOKD_SPOOL_SQLITE_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool_ckpt.h"
#include "spool_driver.h"

enum {
    S_DEDUP_GET, S_DEDUP_PUT, S_EVENT, S_DELIVERY, S_UPDATE, S_ATTEMPT, S_POLL, S_CLAIM,
    S_ORPHAN, S_OLD, S_DEL_ATTEMPTS, S_DEL_DELIVERIES, S_DEL_EVENT, S_DEDUP_OLD, S_VERSION,
    S_ENRICH, S_NEXT_DUE, S_COUNT
};

typedef struct hookd_sqlite {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    hookd_ckpt *ckpt;         /* NULL: SQLite's autocheckpoint on the writer */
    char *path;               /* for log lines; outlives a reloaded configuration */
    int lock_fd;              /* one daemon per spool (spool_file.c) */
    int64_t run;              /* this process's claim on deliveries */
    int gone;                 /* the file was deleted or replaced (sqlite_gone) */
    dev_t dev;                /* the file opened */
    ino_t ino;
    int64_t version;          /* PRAGMA data_version at the last poll */
    int backlog;              /* the last poll stopped at its limit */
    int64_t next_due;         /* Unix ms: the earliest unclaimed pending delivery not yet due */
    int polled;
    char detail[256];         /* SQLite's words on the last failure */
} hookd_sqlite;

static inline int exec(hookd_sqlite *sq, const char *sql)
{
    return sqlite3_exec(sq->db, sql, NULL, NULL, NULL);
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

static inline void rollback(hookd_sqlite *sq)
{
    if (!sqlite3_get_autocommit(sq->db))
        exec(sq, "ROLLBACK");
}

/* Takes pending deliveries nobody holds (a previous run's, or replayed ones)
 * into d, as far as dispatch.queue allows. */
void hookd_sqlite_poll(hookd_sqlite *sq, hookd_runtime *rt, hookd_dispatch *d);
/* Deletes a batch of events past retention whose deliveries all succeeded,
 * and dedup keys past every source's window. */
void hookd_sqlite_purge(hookd_sqlite *sq, const hookd_runtime *rt);

#endif
