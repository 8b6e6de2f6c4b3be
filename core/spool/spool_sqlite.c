/* spool_sqlite: the SQLite driver of the spool (spool_driver.h). One file
 * in WAL mode, owned by the spool's writer thread; each batch of appends
 * and records is one transaction. Its helpers: spool_file.c (the lock and
 * the file modes), spool_vfs.c (one write of the WAL per commit),
 * spool_ckpt.c (checkpoints on a thread of their own), and
 * spool_sqlite_housekeep.c (recovery and retention). */
#include "spool_sqlite.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "spool_file.h"
#include "spool_schema.h"
#include "spool_vfs.h"

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

static const char *sqlite_why(int rc)
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

static int store(hookd_sqlite *sq, hookd_append *a, int64_t now)
{
    hookd_ev *ev = a->ev;
    sqlite3_stmt *s;
    int rc;
    if (a->has_key) {
        s = sq->st[S_DEDUP_GET];
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
        s = sq->st[S_DEDUP_PUT];
        bind_text(s, 1, ev->source);
        bind_text(s, 2, a->key);
        bind_text(s, 3, ev->id);
        sqlite3_bind_int64(s, 4, ev->pub.received_at_ms);
        if ((rc = step_done(s)) != SQLITE_OK)
            return rc;
    }
    s = sq->st[S_EVENT];
    bind_text(s, 1, ev->id);
    bind_text(s, 2, ev->source);
    bind_text(s, 3, ev->type);
    sqlite3_bind_int64(s, 4, ev->pub.received_at_ms);
    sqlite3_bind_blob(s, 5, ev->body, (int)ev->pub.body_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, ev->hstore, (int)ev->hsize, SQLITE_STATIC);
    if ((rc = step_done(s)) != SQLITE_OK)
        return rc;
    int64_t seq = sqlite3_last_insert_rowid(sq->db);
    s = sq->st[S_DELIVERY];
    for (size_t i = 0; i < a->nto; i++) {
        sqlite3_bind_int64(s, 1, seq);
        bind_text(s, 2, a->to[i]->cfg->name);
        sqlite3_bind_int64(s, 3, ev->pub.received_at_ms);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, sq->run);
        if ((rc = step_done(s)) != SQLITE_OK)
            return rc;
        a->delivery[i] = sqlite3_last_insert_rowid(sq->db);
    }
    a->result = HOOKD_SPOOL_STORED;
    return SQLITE_OK;
}

static const char *result_text(int r)
{
    return r == HOOKD_OK ? "ok" : r == HOOKD_RETRY ? "retry" : "fail";
}

static int record(hookd_sqlite *sq, const hookd_spool_rec *r, int64_t now)
{
    const hookd_attempt *a = &r->a;
    if (r->json) {
        sqlite3_stmt *s = sq->st[S_ENRICH];
        bind_text(s, 1, r->id);
        sqlite3_bind_blob(s, 2, r->json, (int)strlen(r->json), SQLITE_STATIC);
        return step_done(s);
    }
    int pending = strcmp(a->state, "pending") == 0;
    sqlite3_stmt *s = sq->st[S_UPDATE];
    bind_text(s, 1, a->state);
    sqlite3_bind_int(s, 2, a->n);
    sqlite3_bind_int64(s, 3, pending ? a->next_at : now);
    sqlite3_bind_int64(s, 4, now);
    bind_text(s, 5, r->reason[0] ? r->reason : NULL);
    sqlite3_bind_int64(s, 6, a->delivery);
    sqlite3_bind_int(s, 7, a->released);
    if (a->released && a->next_at < sq->next_due)
        sq->next_due = a->next_at; /* poll_pending takes it back then */
    int rc = step_done(s);
    if (rc != SQLITE_OK)
        return rc;
    s = sq->st[S_ATTEMPT];
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

/* Whether the spool file is still the one opened: deleted or replaced, a
 * commit would go to an inode nobody will read again, so nothing is taken
 * until hookd is restarted. Logged once. */
static int sqlite_gone(hookd_sqlite *sq)
{
    struct stat st;
    if (sq->gone)
        return 1;
    if (stat(sq->path, &st) == 0 && st.st_dev == sq->dev && st.st_ino == sq->ino)
        return 0;
    sq->gone = 1;
    hookd_log(HOOKD_LOG_ERROR, "spool %s was deleted or replaced while hookd ran: answering "
              "503 and taking nothing until hookd is restarted", sq->path);
    return 1;
}

/* Appends and records in one transaction. */
static int sqlite_commit(void *db, hookd_append *apps, hookd_spool_rec *recs, int64_t now,
                         const char **why)
{
    hookd_sqlite *sq = db;
    if (sqlite_gone(sq)) {
        *why = "the spool file was deleted";
        return HOOKD_SPOOL_LOST;
    }
    int rc = exec(sq, "BEGIN IMMEDIATE");
    for (hookd_append *a = apps; a && rc == SQLITE_OK; a = a->next)
        rc = store(sq, a, now);
    for (hookd_spool_rec *r = recs; r && rc == SQLITE_OK; r = r->next)
        rc = record(sq, r, now);
    if (rc == SQLITE_OK)
        rc = exec(sq, "COMMIT");
    /* Checked again before the commit is acknowledged: a file deleted while
     * it committed took these events with it, so they are not answered 200. */
    if (rc == SQLITE_OK && apps && sqlite_gone(sq)) {
        *why = "the spool file was deleted";
        return HOOKD_SPOOL_LOST;
    }
    if (rc == SQLITE_OK)
        return HOOKD_SPOOL_OK;
    int ext = sqlite3_extended_errcode(sq->db);
    /* In SQLite's words before the rollback replaces them. */
    snprintf(sq->detail, sizeof sq->detail, "%s", sqlite3_errmsg(sq->db));
    rollback(sq);
    *why = sqlite_why(ext ? ext : rc);
    return HOOKD_SPOOL_FAILED;
}

static int sqlite_housekeep(void *db, hookd_runtime *rt, hookd_dispatch *d)
{
    hookd_sqlite *sq = db;
    if (sqlite_gone(sq))
        return HOOKD_SPOOL_LOST;
    hookd_sqlite_poll(sq, rt, d);
    hookd_sqlite_purge(sq, rt);
    return HOOKD_SPOOL_OK;
}

/* ---------- open and close ---------- */

static void close_db(hookd_sqlite *sq)
{
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(sq->st[i]);
    sqlite3_close(sq->db);
    sq->db = NULL;
}

static int open_db(hookd_sqlite *sq, const hookd_config *cfg, char *err, size_t errlen)
{
    /* Memory statistics take a global mutex on every allocation; hookd never
     * reads them. (A no-op once SQLite is initialised.) */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* The WAL's frames go to the kernel once per commit (spool_vfs.c). */
    const char *vfs = hookd_spool_vfs_register() == SQLITE_OK ? HOOKD_SPOOL_VFS : NULL;
    int rc = sqlite3_open_v2(sq->path, &sq->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             vfs);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(sq->db, 5000);
    /* A 4 MB page cache: appends touch the right edge of each b-tree and
     * updates touch recent rows, so more would only add to the RSS. */
    char pragmas[320];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-4000;"
             " PRAGMA temp_store=MEMORY;",
             cfg->spool_sync_full ? "FULL" : "NORMAL");
    if ((rc = exec(sq, pragmas)) != SQLITE_OK ||
        (rc = exec(sq, HOOKD_SPOOL_SCHEMA_SQL)) != SQLITE_OK)
        goto fail;
    /* Read back: a 200 under sync: full promises an fsync per commit. */
    sqlite3_stmt *q;
    int level = -1, want = cfg->spool_sync_full ? 2 : 1;
    if (sqlite3_prepare_v2(sq->db, "PRAGMA synchronous", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            level = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (level != want) {
        snprintf(err, errlen, "spool %s: SQLite runs at synchronous=%d, not %d", sq->path, level,
                 want);
        close_db(sq);
        return -1;
    }
    hookd_log(HOOKD_LOG_INFO, "spool %s: WAL, synchronous=%d (%s)", sq->path, level,
              level == 2 ? "FULL: an fsync per commit" : "NORMAL");
    sqlite3_stmt *s;
    if ((rc = sqlite3_prepare_v2(sq->db, "SELECT value FROM meta WHERE key='schema'", -1, &s,
                                 NULL)) != SQLITE_OK)
        goto fail;
    int have = sqlite3_step(s) == SQLITE_ROW ? atoi((const char *)sqlite3_column_text(s, 0)) : 0;
    sqlite3_finalize(s);
    if (have == 0) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('schema','%d')", HOOKD_SPOOL_SCHEMA);
        if ((rc = exec(sq, sql)) != SQLITE_OK)
            goto fail;
    } else if (have == 1 && HOOKD_SPOOL_SCHEMA == 2) {
        if ((rc = exec(sq, HOOKD_SPOOL_MIGRATE_1_2)) != SQLITE_OK) {
            rollback(sq);
            goto fail;
        }
        hookd_log(HOOKD_LOG_INFO, "spool %s: upgraded from schema 1 to 2", sq->path);
    } else if (have != HOOKD_SPOOL_SCHEMA) {
        snprintf(err, errlen, "spool %s has schema %d; this hookd reads schema %d", sq->path,
                 have, HOOKD_SPOOL_SCHEMA);
        close_db(sq);
        return -1;
    }
    for (int i = 0; i < S_COUNT; i++)
        if ((rc = sqlite3_prepare_v3(sq->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                                     &sq->st[i], NULL)) != SQLITE_OK)
            goto fail;
    return 0;
fail:
    snprintf(err, errlen, "spool %s: %s", sq->path,
             sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
    close_db(sq);
    return -1;
}

static void *sqlite_open(const hookd_spool_open_args *args, char *err, size_t errlen)
{
    const hookd_config *cfg = args->cfg;
    hookd_sqlite *sq = calloc(1, sizeof *sq);
    if (!sq || !(sq->path = strdup(cfg->spool_path))) {
        snprintf(err, errlen, "out of memory");
        free(sq);
        return NULL;
    }
    sq->run = (hookd_now_ms() << 16) | (getpid() & 0xffff);
    struct stat st;
    int ok = (sq->lock_fd = hookd_spool_lock(sq->path, err, errlen)) >= 0 &&
             hookd_spool_private(sq->path, err, errlen) == 0 &&
             open_db(sq, cfg, err, errlen) == 0;
    if (ok && stat(sq->path, &st) != 0) { /* the file sqlite_gone compares with */
        snprintf(err, errlen, "spool %s: %s", sq->path, strerror(errno));
        close_db(sq);
        ok = 0;
    }
    if (!ok) {
        hookd_spool_unlock(sq->lock_fd);
        free(sq->path);
        free(sq);
        return NULL;
    }
    sq->dev = st.st_dev;
    sq->ino = st.st_ino;
    sq->ckpt = hookd_ckpt_start(sq->db, sq->path, cfg->spool_sync_full);
    return sq;
}

static void sqlite_close(void *db)
{
    hookd_sqlite *sq = db;
    hookd_ckpt_stop(sq->ckpt);
    if (exec(sq, "PRAGMA wal_checkpoint(TRUNCATE)") != SQLITE_OK)
        hookd_log(HOOKD_LOG_WARN, "spool %s: checkpoint at close failed: %s", sq->path,
                  sqlite3_errmsg(sq->db));
    close_db(sq);
    hookd_spool_unlock(sq->lock_fd); /* after the last write */
    free(sq->path);
    free(sq);
}

static const char *sqlite_describe(void *db) { return ((hookd_sqlite *)db)->path; }
static const char *sqlite_detail(void *db) { return ((hookd_sqlite *)db)->detail; }

const hookd_spool_driver hookd_spool_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .commit = sqlite_commit,
    .housekeep = sqlite_housekeep,
    .close = sqlite_close,
    .describe = sqlite_describe,
    .detail = sqlite_detail,
};
