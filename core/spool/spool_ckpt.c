/* spool_ckpt: the spool's WAL checkpointer thread. SQLite's autocheckpoint
 * runs inside the commit that crosses its threshold, on the writer: it copies
 * ~4 MB of pages into the database and syncs both files, and every event
 * answered in the next milliseconds waits for it (the bench's p99). Here
 * the writer's WAL hook signals a thread whose PASSIVE checkpoint, on its own
 * connection, copies the pages while the writer goes on committing. Under
 * steady load that copy never quite catches up (new frames land meanwhile),
 * and the WAL only rewinds once every frame is copied; so when the thread has
 * copied all but a short tail, the writer copies the tail itself, and its
 * next transaction starts the WAL over. */
#include "spool_ckpt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/log.h"

#define CKPT_PAGES 1000        /* SQLite's own default threshold, ~4 MB */
#define CKPT_HARD_PAGES 4000   /* ~16 MB: no short tail came; the writer copies what is left */
#define CKPT_TAIL 32           /* frames left that the writer copies itself */

struct hookd_ckpt {
    sqlite3 *writer, *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int wanted;    /* a pass is asked for or running */
    atomic_int nlog, ncopied; /* the WAL's frames and those copied, after the last pass */
    int last_pages;       /* writer only: the WAL's frames at the previous commit */
    int stopping;
    int failing;          /* checkpointer only: the last pass failed, logged */
};

/* On the writer thread after each commit: `pages` frames are in the WAL. */
static int on_wal(void *ud, sqlite3 *db, const char *name, int pages)
{
    hookd_ckpt *k = ud;
    if (pages < k->last_pages) { /* the WAL started over: old counts mean nothing */
        atomic_store(&k->nlog, 0);
        atomic_store(&k->ncopied, 0);
    }
    k->last_pages = pages;
    if (pages < CKPT_PAGES || atomic_load(&k->wanted))
        return SQLITE_OK;
    int nlog = atomic_load(&k->nlog), ncopied = atomic_load(&k->ncopied);
    if (pages >= CKPT_HARD_PAGES || (nlog > 0 && pages - ncopied <= CKPT_TAIL)) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_store(&k->nlog, 0);
        atomic_store(&k->ncopied, 0);
        return SQLITE_OK;
    }
    if (!atomic_exchange(&k->wanted, 1)) {
        pthread_mutex_lock(&k->lock);
        pthread_cond_signal(&k->cond);
        pthread_mutex_unlock(&k->lock);
    }
    return SQLITE_OK;
}

static void *run(void *arg)
{
    hookd_ckpt *k = arg;
    pthread_mutex_lock(&k->lock);
    for (;;) {
        while (!atomic_load(&k->wanted) && !k->stopping)
            pthread_cond_wait(&k->cond, &k->lock);
        if (k->stopping)
            break;
        pthread_mutex_unlock(&k->lock);
        int nlog = 0, ncopied = 0;
        int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
        /* BUSY: another connection checkpoints; the next commit asks again.
         * Anything else is logged once until a pass succeeds. */
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && !k->failing)
            hookd_log(HOOKD_LOG_WARN, "spool checkpoint failed: %s", sqlite3_errmsg(k->db));
        k->failing = rc != SQLITE_OK && rc != SQLITE_BUSY;
        atomic_store(&k->nlog, nlog > 0 ? nlog : 0);
        atomic_store(&k->ncopied, ncopied > 0 ? ncopied : 0);
        /* A WAL still long at the next commit asks again (or copies its tail). */
        atomic_store(&k->wanted, 0);
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

hookd_ckpt *hookd_ckpt_start(sqlite3 *writer, const char *path, int sync_full)
{
    hookd_ckpt *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->writer = writer;
    atomic_init(&k->wanted, 0);
    atomic_init(&k->nlog, 0);
    atomic_init(&k->ncopied, 0);
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(k->db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        hookd_log(HOOKD_LOG_WARN, "spool %s: no checkpointer thread (%s); the writer checkpoints",
                  path, k->db ? sqlite3_errmsg(k->db) : "out of memory");
        sqlite3_close(k->db);
        free(k);
        return NULL;
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    if (pthread_create(&k->thread, NULL, run, k) != 0) {
        hookd_log(HOOKD_LOG_WARN, "spool %s: no checkpointer thread; the writer checkpoints", path);
        pthread_mutex_destroy(&k->lock);
        pthread_cond_destroy(&k->cond);
        sqlite3_close(k->db);
        free(k);
        return NULL;
    }
    pthread_setname_np(k->thread, "hookd-ckpt");
    sqlite3_wal_hook(writer, on_wal, k); /* replaces the autocheckpoint */
    return k;
}

void hookd_ckpt_stop(hookd_ckpt *k)
{
    if (!k)
        return;
    sqlite3_wal_autocheckpoint(k->writer, CKPT_PAGES); /* removes on_wal */
    pthread_mutex_lock(&k->lock);
    k->stopping = 1;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->cond);
    sqlite3_close(k->db);
    free(k);
}
