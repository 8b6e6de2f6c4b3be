/* spool_ckpt: the spool's WAL checkpointer thread. SQLite's autocheckpoint
 * runs inside the commit that crosses its threshold, on the writer, and it
 * syncs the WAL and the database: every event answered in the next few
 * milliseconds waits for it (the bench's p99). Here the writer's WAL hook
 * only signals; a PASSIVE checkpoint on another connection copies the pages
 * while the writer goes on committing, and the writer's next transaction
 * rewinds the WAL once every frame has been copied. */
#include "spool_ckpt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"

#define CKPT_PAGES 1000        /* SQLite's own default threshold, ~4 MB */
#define CKPT_HARD_PAGES 25000  /* ~100 MB: the thread fell behind; the writer copies */
#define CKPT_ROUNDS 8          /* passes per wake-up to catch frames added meanwhile */

struct hookd_ckpt {
    sqlite3 *writer, *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int wanted;
    int stopping;
};

/* On the writer thread after each commit: `pages` frames are in the WAL. */
static int on_wal(void *ud, sqlite3 *db, const char *name, int pages)
{
    hookd_ckpt *k = ud;
    if (pages >= CKPT_HARD_PAGES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (pages >= CKPT_PAGES && !atomic_exchange(&k->wanted, 1)) {
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
        for (int i = 0; i < CKPT_ROUNDS; i++) {
            int nlog = 0, ncopied = 0;
            int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog,
                                               &ncopied);
            if (rc != SQLITE_OK) {
                hookd_log(HOOKD_LOG_WARN, "spool checkpoint failed: %s", sqlite3_errmsg(k->db));
                break;
            }
            if (ncopied >= nlog)
                break;
        }
        /* A WAL still long at the next commit asks again. */
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
