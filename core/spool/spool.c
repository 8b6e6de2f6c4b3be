/* spool: SQLite in WAL mode, owned by one writer thread. The loop thread
 * queues appends and gets them back through a uv_async once their
 * transaction committed; workers queue attempt records. Both kinds ride in
 * the same group commit. Between commits the writer takes pending deliveries
 * nobody holds (a previous run's, or replayed ones) and purges old events
 * (spool_housekeep.c). */
#include "spool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "spool_file.h"
#include "spool_state.h"
#include "spool_schema.h"
#include "spool_vfs.h"

#define RETRY_FAILED_MS 200   /* after a failed commit, before records retry */
#define RECORD_DELAY_MS 20    /* the longest a record waits for company */

/* Every statement, the housekeeping's too: prepared once at open. */
static const char *const sql_text[S_COUNT] = {
    [S_DEDUP_GET] = "SELECT event, at FROM dedup WHERE source = ?1 AND key = ?2",
    [S_DEDUP_PUT] = "INSERT OR REPLACE INTO dedup(source, key, event, at) VALUES(?1,?2,?3,?4)",
    [S_EVENT] = "INSERT INTO events(id, source, type, received_at, body, headers)"
                " VALUES(?1,?2,?3,?4,?5,?6)",
    [S_DELIVERY] = "INSERT INTO deliveries(event, plugin, state, next_at, updated_at, claim)"
                   " VALUES(?1,?2,'pending',?3,?4,?5)",
    [S_UPDATE] = "UPDATE deliveries SET state=?1, attempts=?2, next_at=?3, updated_at=?4,"
                 " reason=?5, claim = CASE WHEN ?7 THEN NULL ELSE claim END"
                 " WHERE id=?6 AND attempts <= ?2",
    [S_ATTEMPT] = "INSERT OR REPLACE INTO attempts(delivery, n, started_at, duration_ms,"
                  " result, reason, retry_at) VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [S_POLL] = "SELECT d.id, d.plugin, d.attempts, d.round_start, d.next_at, e.seq, e.id,"
               " e.source, e.type, e.received_at, e.body, e.headers, e.enrichment"
               " FROM deliveries d JOIN events e ON e.seq = d.event"
               " WHERE d.state = 'pending' AND (d.claim IS NULL OR d.claim <> ?1)"
               " AND d.next_at <= ?3 ORDER BY d.id LIMIT ?2",
    [S_NEXT_DUE] = "SELECT min(next_at) FROM deliveries"
                   " WHERE state = 'pending' AND (claim IS NULL OR claim <> ?1)",
    [S_CLAIM] = "UPDATE deliveries SET claim = ?1 WHERE id = ?2",
    [S_ORPHAN] = "UPDATE deliveries SET state='dead', updated_at=?1, reason=?2, claim=NULL"
                 " WHERE id=?3",
    [S_OLD] = "SELECT e.seq FROM events e WHERE e.received_at < ?1 AND NOT EXISTS"
              " (SELECT 1 FROM deliveries d WHERE d.event = e.seq AND d.state <> 'delivered')"
              " ORDER BY e.received_at LIMIT ?2",
    [S_DEL_ATTEMPTS] = "DELETE FROM attempts WHERE delivery IN"
                       " (SELECT id FROM deliveries WHERE event = ?1)",
    [S_DEL_DELIVERIES] = "DELETE FROM deliveries WHERE event = ?1",
    [S_DEL_EVENT] = "DELETE FROM events WHERE seq = ?1",
    [S_DEDUP_OLD] = "DELETE FROM dedup WHERE (source, key) IN"
                    " (SELECT source, key FROM dedup WHERE at < ?1 LIMIT ?2)",
    [S_VERSION] = "PRAGMA data_version",
    [S_ENRICH] = "UPDATE events SET enrichment = ?2 WHERE id = ?1",
};

/* ---------- small helpers ---------- */

static const char *describe(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL: return "disk full";
    case SQLITE_IOERR: return "I/O error";
    case SQLITE_READONLY: return "read-only";
    case SQLITE_CANTOPEN: return "cannot open the file";
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return "busy (another writer holds it)";
    case SQLITE_CORRUPT: return "file is damaged";
    case SQLITE_NOMEM: return "out of memory";
    default: return "write failed";
    }
}

/* ---------- the group commit ---------- */

static int store(hookd_spool *sp, hookd_append *a, int64_t now)
{
    hookd_ev *ev = a->ev;
    sqlite3_stmt *s;
    int rc;
    if (a->has_key) {
        s = sp->st[S_DEDUP_GET];
        bind_text(s, 1, ev->source);
        bind_text(s, 2, a->key);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW &&
            sqlite3_column_int64(s, 1) >= ev->pub.received_at_ms - a->window_ms) {
            snprintf(a->first_id, sizeof a->first_id, "%s",
                     (const char *)sqlite3_column_text(s, 0));
            sqlite3_reset(s);
            a->result = HOOKD_SPOOL_DUPLICATE;
            return SQLITE_OK;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return rc;
        s = sp->st[S_DEDUP_PUT];
        bind_text(s, 1, ev->source);
        bind_text(s, 2, a->key);
        bind_text(s, 3, ev->id);
        sqlite3_bind_int64(s, 4, ev->pub.received_at_ms);
        if ((rc = step_done(s)) != SQLITE_OK)
            return rc;
    }
    s = sp->st[S_EVENT];
    bind_text(s, 1, ev->id);
    bind_text(s, 2, ev->source);
    bind_text(s, 3, ev->type);
    sqlite3_bind_int64(s, 4, ev->pub.received_at_ms);
    sqlite3_bind_blob(s, 5, ev->body, (int)ev->pub.body_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, ev->hstore, (int)ev->hsize, SQLITE_STATIC);
    if ((rc = step_done(s)) != SQLITE_OK)
        return rc;
    int64_t seq = sqlite3_last_insert_rowid(sp->db);
    s = sp->st[S_DELIVERY];
    for (size_t i = 0; i < a->nto; i++) {
        sqlite3_bind_int64(s, 1, seq);
        bind_text(s, 2, a->to[i]->cfg->name);
        sqlite3_bind_int64(s, 3, ev->pub.received_at_ms);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, sp->run);
        if ((rc = step_done(s)) != SQLITE_OK)
            return rc;
        a->delivery[i] = sqlite3_last_insert_rowid(sp->db);
    }
    a->result = HOOKD_SPOOL_STORED;
    return SQLITE_OK;
}

static const char *result_text(int r)
{
    return r == HOOKD_OK ? "ok" : r == HOOKD_RETRY ? "retry" : "fail";
}

static int record(hookd_spool *sp, const rec *r, int64_t now)
{
    const hookd_attempt *a = &r->a;
    if (r->json) {
        sqlite3_stmt *s = sp->st[S_ENRICH];
        bind_text(s, 1, r->id);
        sqlite3_bind_blob(s, 2, r->json, (int)strlen(r->json), SQLITE_STATIC);
        return step_done(s);
    }
    int pending = strcmp(a->state, "pending") == 0;
    sqlite3_stmt *s = sp->st[S_UPDATE];
    bind_text(s, 1, a->state);
    sqlite3_bind_int(s, 2, a->n);
    sqlite3_bind_int64(s, 3, pending ? a->next_at : now);
    sqlite3_bind_int64(s, 4, now);
    bind_text(s, 5, r->reason[0] ? r->reason : NULL);
    sqlite3_bind_int64(s, 6, a->delivery);
    sqlite3_bind_int(s, 7, a->released);
    if (a->released && a->next_at < sp->next_due)
        sp->next_due = a->next_at; /* poll_pending takes it back then */
    int rc = step_done(s);
    if (rc != SQLITE_OK)
        return rc;
    s = sp->st[S_ATTEMPT];
    sqlite3_bind_int64(s, 1, a->delivery);
    sqlite3_bind_int(s, 2, a->n);
    sqlite3_bind_int64(s, 3, a->started_at);
    sqlite3_bind_int64(s, 4, a->duration_ms);
    bind_text(s, 5, result_text(a->result));
    bind_text(s, 6, r->reason[0] ? r->reason : NULL);
    if (pending)
        sqlite3_bind_int64(s, 7, a->next_at);
    else
        sqlite3_bind_null(s, 7);
    return step_done(s);
}

static void note_failure(hookd_spool *sp, int rc, const char *during)
{
    if (!sp->failing)
        hookd_log(HOOKD_LOG_ERROR, "spool %s: %s failed: %s (%s); answering 503 until it recovers",
                  sp->path, during, describe(rc), sqlite3_errmsg(sp->db));
    sp->failing = 1;
    atomic_store_explicit(&sp->failing_pub, 1, memory_order_relaxed);
}

static void note_success(hookd_spool *sp)
{
    if (sp->gone)
        return;
    if (sp->failing)
        hookd_log(HOOKD_LOG_INFO, "spool %s: writing again", sp->path);
    sp->failing = 0;
    atomic_store_explicit(&sp->failing_pub, 0, memory_order_relaxed);
}

/* Whether the spool file is still the one opened: deleted or replaced, a
 * commit would go to an inode nobody will read again, so nothing is taken
 * until hookd is restarted. Logged once. */
static int spool_gone(hookd_spool *sp)
{
    struct stat st;
    if (sp->gone)
        return 1;
    if (stat(sp->path, &st) == 0 && st.st_dev == sp->dev && st.st_ino == sp->ino)
        return 0;
    sp->gone = 1;
    sp->failing = 1;
    atomic_store_explicit(&sp->failing_pub, 1, memory_order_relaxed);
    hookd_log(HOOKD_LOG_ERROR, "spool %s was deleted or replaced while hookd ran: answering "
              "503 and taking nothing until hookd is restarted", sp->path);
    return 1;
}

/* Commits appends and records in one transaction. Returns 0, or the SQLite
 * code of the failure (nothing of the batch is then stored). */
static int commit(hookd_spool *sp, hookd_append *apps, rec *recs)
{
    int64_t now = hookd_now_ms();
    if (spool_gone(sp)) {
        for (hookd_append *a = apps; a; a = a->next) {
            a->result = -EIO;
            a->why = "the spool file was deleted";
        }
        return SQLITE_IOERR;
    }
    int rc = exec(sp, "BEGIN IMMEDIATE");
    for (hookd_append *a = apps; a && rc == SQLITE_OK; a = a->next)
        rc = store(sp, a, now);
    for (rec *r = recs; r && rc == SQLITE_OK; r = r->next)
        rc = record(sp, r, now);
    if (rc == SQLITE_OK)
        rc = exec(sp, "COMMIT");
    /* Checked again before the commit is acknowledged: a file deleted while
     * it committed took these events with it, so they are not answered 200. */
    if (rc == SQLITE_OK && apps && spool_gone(sp)) {
        for (hookd_append *a = apps; a; a = a->next) {
            a->result = -EIO;
            a->why = "the spool file was deleted";
        }
        return SQLITE_IOERR;
    }
    if (rc == SQLITE_OK) {
        note_success(sp);
        sp->commits++;
        for (hookd_append *a = apps; a; a = a->next)
            sp->appended++;
        return 0;
    }
    int ext = sqlite3_extended_errcode(sp->db);
    note_failure(sp, ext ? ext : rc, "commit");
    rollback(sp);
    for (hookd_append *a = apps; a; a = a->next) {
        a->result = -EIO;
        a->why = describe(ext ? ext : rc);
    }
    return rc;
}
/* ---------- the writer thread ---------- */

static void *writer(void *arg)
{
    hookd_spool *sp = arg;
    int64_t next_housekeep = 0;
    int yielded = 0;
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        int64_t now = hookd_monotonic_ms();
        int64_t recs_due = sp->recs ? sp->recs_since + RECORD_DELAY_MS : INT64_MAX;
        if (recs_due < sp->retry_recs_at)
            recs_due = sp->retry_recs_at;
        int recs_ready = sp->recs && now >= sp->retry_recs_at;
        if (!sp->in_head && now < recs_due && now < next_housekeep && !sp->stopping) {
            int64_t until = next_housekeep < recs_due ? next_housekeep : recs_due;
            hookd_cond_wait_ms(&sp->cond, &sp->lock, until - now);
            continue;
        }
        if (sp->in_head && !sp->stopping && !yielded) {
            /* Let the loop thread add what it has already read to this
             * commit: on a busy core that doubles the events per commit. */
            yielded = 1;
            pthread_mutex_unlock(&sp->lock);
            sched_yield();
            pthread_mutex_lock(&sp->lock);
            continue;
        }
        yielded = 0;
        hookd_append *apps = sp->in_head;
        rec *recs = recs_ready || sp->stopping ? sp->recs : NULL;
        sp->in_head = sp->in_tail = NULL;
        if (recs) {
            sp->recs = sp->recs_tail = NULL;
            sp->recs_since = 0;
        }
        int stopping = sp->stopping;
        pthread_mutex_unlock(&sp->lock);

        int failed = 0;
        if (apps || recs)
            failed = commit(sp, apps, recs) != 0;
        if (!failed) {
            while (recs) {
                rec *nx = recs->next;
                free(recs->json);
                free(recs);
                recs = nx;
            }
        }
        if (!stopping && hookd_monotonic_ms() >= next_housekeep) {
            /* The configuration of this moment: a reload may swap it. */
            pthread_mutex_lock(&sp->lock);
            hookd_runtime *rt = hookd_runtime_ref(sp->rt);
            pthread_mutex_unlock(&sp->lock);
            if (!spool_gone(sp)) {
                hookd_spool_poll(sp, rt);
                hookd_spool_purge(sp, rt);
            }
            hookd_runtime_unref(rt);
            next_housekeep = hookd_monotonic_ms() + HOUSEKEEP_MS;
        }

        pthread_mutex_lock(&sp->lock);
        if (apps) {
            hookd_append *last = apps;
            while (last->next)
                last = last->next;
            if (sp->done_tail)
                sp->done_tail->next = apps;
            else
                sp->done_head = apps;
            sp->done_tail = last;
            if (!sp->detached)
                uv_async_send(&sp->async);
        }
        if (failed && recs) {
            /* Keep them for the next commit: losing one only repeats a delivery. */
            rec *last = recs;
            while (last->next)
                last = last->next;
            last->next = sp->recs;
            if (!sp->recs)
                sp->recs_tail = last;
            sp->recs = recs;
            sp->retry_recs_at = hookd_monotonic_ms() + RETRY_FAILED_MS;
            if (!sp->recs_since)
                sp->recs_since = hookd_monotonic_ms();
        }
        if (stopping && !sp->in_head && (!sp->recs || failed))
            break;
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

/* ---------- the loop side ---------- */

hookd_append *hookd_append_new(hookd_ev *ev, hookd_instance *const *to, size_t nto)
{
    hookd_append *a =
        calloc(1, sizeof *a + nto * (sizeof *a->delivery + sizeof *a->to));
    if (!a)
        return NULL;
    /* int64_t first: the block after the struct is aligned for it. */
    a->delivery = (int64_t *)(a + 1);
    a->to = (hookd_instance **)(a->delivery + nto);
    memcpy(a->to, to, nto * sizeof *to);
    a->nto = nto;
    a->ev = ev;
    return a;
}

void hookd_append_free(hookd_append *a)
{
    if (!a)
        return;
    hookd_ev_unref(a->ev);
    hookd_runtime_unref(a->rt);
    free(a);
}

static void on_async(uv_async_t *h)
{
    hookd_spool *sp = h->data;
    pthread_mutex_lock(&sp->lock);
    hookd_append *a = sp->done_head;
    sp->done_head = sp->done_tail = NULL;
    pthread_mutex_unlock(&sp->lock);
    /* The whole commit's deliveries reach the workers at once. */
    hookd_job_list jobs = {0};
    while (a) {
        hookd_append *nx = a->next;
        a->next = NULL;
        atomic_fetch_sub(&sp->waiting, 1);
        a->jobs = &jobs;
        a->done(a);
        hookd_append_free(a);
        a = nx;
    }
    hookd_dispatch_submit_list(sp->dispatch, &jobs);
}

/* One lock and one wake-up per loop iteration rather than per request. */
static void hand_over(hookd_spool *sp)
{
    if (!sp->st_head)
        return;
    pthread_mutex_lock(&sp->lock);
    if (sp->in_tail)
        sp->in_tail->next = sp->st_head;
    else
        sp->in_head = sp->st_head;
    sp->in_tail = sp->st_tail;
    pthread_cond_signal(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    sp->st_head = sp->st_tail = NULL;
}

static void on_check(uv_check_t *h) { hand_over(h->data); }
static void on_prepare(uv_prepare_t *h) { hand_over(h->data); }

void hookd_spool_append(hookd_spool *sp, hookd_append *a)
{
    a->next = NULL;
    atomic_fetch_add(&sp->waiting, 1);
    if (sp->st_tail)
        sp->st_tail->next = a;
    else
        sp->st_head = a;
    sp->st_tail = a;
}

size_t hookd_spool_waiting(hookd_spool *sp) { return atomic_load(&sp->waiting); }

int hookd_spool_failing(hookd_spool *sp)
{
    return atomic_load_explicit(&sp->failing_pub, memory_order_relaxed);
}

static void queue_rec(hookd_spool *sp, rec *r)
{
    pthread_mutex_lock(&sp->lock);
    r->next = NULL;
    if (sp->recs_tail)
        sp->recs_tail->next = r;
    else
        sp->recs = r;
    sp->recs_tail = r;
    /* One wake-up per group: the first record sets the writer's deadline
     * (RECORD_DELAY_MS); the others ride along, or with the next appends. */
    if (!sp->recs_since) {
        sp->recs_since = hookd_monotonic_ms();
        pthread_cond_signal(&sp->cond);
    }
    pthread_mutex_unlock(&sp->lock);
}

void hookd_spool_record(void *ud, const hookd_attempt *a)
{
    hookd_spool *sp = ud;
    rec *r = malloc(sizeof *r);
    if (!r)
        return; /* the delivery stays pending: it runs again after a restart */
    r->a = *a;
    snprintf(r->reason, sizeof r->reason, "%s", a->reason ? a->reason : "");
    r->a.reason = NULL;
    r->json = NULL;
    queue_rec(sp, r);
}

void hookd_spool_enriched(hookd_spool *sp, const hookd_ev *ev)
{
    rec *r = calloc(1, sizeof *r);
    if (!r || !ev->enrichment ||
        !(r->json = json_dumps(ev->enrichment, JSON_COMPACT | JSON_ENSURE_ASCII))) {
        free(r); /* not kept: fetched again after a restart */
        return;
    }
    snprintf(r->id, sizeof r->id, "%s", ev->id);
    queue_rec(sp, r);
}

/* ---------- open and close ---------- */

static void close_db(hookd_spool *sp)
{
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(sp->st[i]);
    sqlite3_close(sp->db);
    sp->db = NULL;
}

static int open_db(hookd_spool *sp, char *err, size_t errlen)
{
    const hookd_config *cfg = sp->rt->cfg;
    /* Memory statistics take a global mutex on every allocation; hookd never
     * reads them. (A no-op once SQLite is initialised.) */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* The WAL's frames go to the kernel once per commit (spool_vfs.c). */
    const char *vfs = hookd_spool_vfs_register() == SQLITE_OK ? HOOKD_SPOOL_VFS : NULL;
    int rc = sqlite3_open_v2(sp->path, &sp->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             vfs);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(sp->db, 5000);
    /* A 4 MB page cache: appends touch the right edge of each b-tree and
     * updates touch recent rows, so more would only add to the RSS. */
    char pragmas[320];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-4000;"
             " PRAGMA temp_store=MEMORY;",
             cfg->spool_sync_full ? "FULL" : "NORMAL");
    if ((rc = exec(sp, pragmas)) != SQLITE_OK || (rc = exec(sp, HOOKD_SPOOL_SCHEMA_SQL)) != SQLITE_OK)
        goto fail;
    /* Read back: a 200 under sync: full promises an fsync per commit. */
    sqlite3_stmt *q;
    int level = -1, want = cfg->spool_sync_full ? 2 : 1;
    if (sqlite3_prepare_v2(sp->db, "PRAGMA synchronous", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            level = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (level != want) {
        snprintf(err, errlen, "spool %s: SQLite runs at synchronous=%d, not %d", sp->path, level,
                 want);
        close_db(sp);
        return -1;
    }
    hookd_log(HOOKD_LOG_INFO, "spool %s: WAL, synchronous=%d (%s)", sp->path, level,
              level == 2 ? "FULL: an fsync per commit" : "NORMAL");
    sqlite3_stmt *s;
    if ((rc = sqlite3_prepare_v2(sp->db, "SELECT value FROM meta WHERE key='schema'", -1, &s,
                                 NULL)) != SQLITE_OK)
        goto fail;
    int have = sqlite3_step(s) == SQLITE_ROW ? atoi((const char *)sqlite3_column_text(s, 0)) : 0;
    sqlite3_finalize(s);
    if (have == 0) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('schema','%d')", HOOKD_SPOOL_SCHEMA);
        if ((rc = exec(sp, sql)) != SQLITE_OK)
            goto fail;
    } else if (have == 1 && HOOKD_SPOOL_SCHEMA == 2) {
        if ((rc = exec(sp, HOOKD_SPOOL_MIGRATE_1_2)) != SQLITE_OK) {
            rollback(sp);
            goto fail;
        }
        hookd_log(HOOKD_LOG_INFO, "spool %s: upgraded from schema 1 to 2", sp->path);
    } else if (have != HOOKD_SPOOL_SCHEMA) {
        snprintf(err, errlen, "spool %s has schema %d; this hookd reads schema %d", sp->path,
                 have, HOOKD_SPOOL_SCHEMA);
        close_db(sp);
        return -1;
    }
    for (int i = 0; i < S_COUNT; i++)
        if ((rc = sqlite3_prepare_v3(sp->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                                     &sp->st[i], NULL)) != SQLITE_OK)
            goto fail;
    return 0;
fail:
    snprintf(err, errlen, "spool %s: %s", sp->path,
             sp->db ? sqlite3_errmsg(sp->db) : sqlite3_errstr(rc));
    close_db(sp);
    return -1;
}

hookd_spool *hookd_spool_open(uv_loop_t *loop, hookd_runtime *rt, hookd_dispatch *d,
                              char *err, size_t errlen)
{
    hookd_spool *sp = calloc(1, sizeof *sp);
    if (!sp) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sp->rt = rt;
    sp->dispatch = d;
    sp->path = strdup(rt->cfg->spool_path); /* outlives a reloaded configuration */
    if (!sp->path) {
        snprintf(err, errlen, "out of memory");
        free(sp);
        return NULL;
    }
    sp->run = (hookd_now_ms() << 16) | (getpid() & 0xffff);
    atomic_init(&sp->waiting, 0);
    atomic_init(&sp->failing_pub, 0);
    struct stat st;
    int ok = (sp->lock_fd = hookd_spool_lock(sp->path, err, errlen)) >= 0 &&
             hookd_spool_private(sp->path, err, errlen) == 0 && open_db(sp, err, errlen) == 0;
    if (ok && stat(sp->path, &st) != 0) { /* the file spool_gone compares with */
        snprintf(err, errlen, "spool %s: %s", sp->path, strerror(errno));
        close_db(sp);
        ok = 0;
    }
    if (!ok) {
        hookd_spool_unlock(sp->lock_fd);
        free(sp->path);
        free(sp);
        return NULL;
    }
    sp->dev = st.st_dev;
    sp->ino = st.st_ino;
    sp->ckpt = hookd_ckpt_start(sp->db, sp->path, rt->cfg->spool_sync_full);
    hookd_runtime_ref(rt);
    pthread_mutex_init(&sp->lock, NULL);
    hookd_cond_init_monotonic(&sp->cond);
    uv_async_init(loop, &sp->async, on_async);
    sp->async.data = sp;
    uv_check_init(loop, &sp->check);
    uv_prepare_init(loop, &sp->prepare);
    sp->check.data = sp->prepare.data = sp;
    uv_check_start(&sp->check, on_check);
    uv_prepare_start(&sp->prepare, on_prepare);
    uv_unref((uv_handle_t *)&sp->check);
    uv_unref((uv_handle_t *)&sp->prepare);
    hookd_dispatch_set_sink(d, hookd_spool_record, sp);
    if (pthread_create(&sp->thread, NULL, writer, sp) == 0) {
        pthread_setname_np(sp->thread, "hookd-spool");
    } else {
        snprintf(err, errlen, "cannot start the spool writer thread");
        uv_close((uv_handle_t *)&sp->async, NULL);
        uv_close((uv_handle_t *)&sp->check, NULL);
        uv_close((uv_handle_t *)&sp->prepare, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        hookd_ckpt_stop(sp->ckpt);
        close_db(sp);
        hookd_spool_unlock(sp->lock_fd);
        pthread_mutex_destroy(&sp->lock);
        pthread_cond_destroy(&sp->cond);
        hookd_runtime_unref(rt);
        free(sp->path);
        free(sp);
        return NULL;
    }
    return sp;
}

void hookd_spool_set_runtime(hookd_spool *sp, hookd_runtime *rt)
{
    hookd_runtime_ref(rt);
    pthread_mutex_lock(&sp->lock);
    hookd_runtime *old = sp->rt;
    sp->rt = rt;
    pthread_mutex_unlock(&sp->lock);
    hookd_runtime_unref(old);
}

void hookd_spool_detach(hookd_spool *sp)
{
    hand_over(sp);
    uv_close((uv_handle_t *)&sp->check, NULL);
    uv_close((uv_handle_t *)&sp->prepare, NULL);
    pthread_mutex_lock(&sp->lock);
    sp->detached = 1;
    pthread_mutex_unlock(&sp->lock);
    uv_close((uv_handle_t *)&sp->async, NULL);
}

void hookd_spool_close(hookd_spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->stopping = 1;
    pthread_cond_signal(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    pthread_join(sp->thread, NULL);
    /* Appends that never reached the loop (none after a clean stop). */
    for (hookd_append *a = sp->done_head, *nx; a; a = nx) {
        nx = a->next;
        hookd_append_free(a);
    }
    for (rec *r = sp->recs, *nx; r; r = nx) {
        nx = r->next;
        free(r->json);
        free(r);
    }
    hookd_ckpt_stop(sp->ckpt);
    if (exec(sp, "PRAGMA wal_checkpoint(TRUNCATE)") != SQLITE_OK)
        hookd_log(HOOKD_LOG_WARN, "spool %s: checkpoint at close failed: %s", sp->path,
                  sqlite3_errmsg(sp->db));
    close_db(sp);
    hookd_spool_unlock(sp->lock_fd); /* after the last write */
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->cond);
    uint64_t appended = sp->appended, commits = sp->commits;
    hookd_runtime_unref(sp->rt);
    free(sp->path);
    free(sp);
    hookd_log(HOOKD_LOG_INFO, "spool closed: %llu events in %llu commits",
              (unsigned long long)appended, (unsigned long long)commits);
}
