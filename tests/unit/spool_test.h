/* Helpers of the tests that run a real spool (spool/test_spool.c,
 * ingest/test_receive.c): a temporary directory, the stack hookd_daemon_run
 * wires (runtime, dispatcher, spool on a libuv loop) from a YAML text, and
 * reads of the spool's database through a separate SQLite connection, as
 * `hookd events` does. Env: HOOKD_PLUGIN_DIR (build/plugins). */
#ifndef HOOKD_SPOOL_TEST_H
#define HOOKD_SPOOL_TEST_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "config/config.h"
#include "deliver/dispatch.h"
#include "deliver/runtime.h"
#include "spool/spool.h"

typedef struct test_stack {
    uv_loop_t loop;
    hookd_runtime *rt;
    hookd_dispatch *d;
    hookd_spool *sp;
} test_stack;

/* A fresh directory under /tmp; `dir` holds at least 64 bytes. */
static inline void tmpdir_make(char *dir, const char *name)
{
    snprintf(dir, 64, "/tmp/hookd-test-%s-XXXXXX", name);
    if (!mkdtemp(dir))
        fail_msg("mkdtemp: %s", dir);
}

/* Removes the directory and the files in it (no subdirectories). */
static inline void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline const char *plugin_dir(void)
{
    const char *p = getenv("HOOKD_PLUGIN_DIR");
    if (!p)
        fail_msg("HOOKD_PLUGIN_DIR is not set (run through ctest)");
    return p;
}

/* Runtime, dispatcher (one worker) and spool from `yaml`, which must load. */
static inline void stack_open(test_stack *s, const char *yaml)
{
    char err[1024] = "";
    memset(s, 0, sizeof *s);
    assert_int_equal(uv_loop_init(&s->loop), 0);
    hookd_config *cfg = hookd_config_parse("t.yaml", yaml, strlen(yaml), err, sizeof err);
    if (!cfg)
        fail_msg("config: %s", err);
    if (!(s->rt = hookd_runtime_build(cfg, err, sizeof err)))
        fail_msg("runtime: %s", err);
    s->d = hookd_dispatch_new(1);
    assert_non_null(s->d);
    if (!(s->sp = hookd_spool_open(&s->loop, s->rt, s->d, err, sizeof err)))
        fail_msg("spool: %s", err);
}

/* In hookd_daemon_run's order; every append must have been answered. */
static inline void stack_close(test_stack *s)
{
    assert_int_equal(hookd_spool_waiting(s->sp), 0);
    hookd_spool_detach(s->sp);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_int_equal(hookd_dispatch_stop(s->d, 5000), 0);
    hookd_spool_close(s->sp);
    hookd_dispatch_free(s->d);
    hookd_runtime_unref(s->rt);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    memset(s, 0, sizeof *s);
}

/* ---- reading the spool's database ---- */

static inline sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("%s: %s", path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The first column of the one row of `sql` (printf-style) as an integer;
 * -1 when the query gives no row. */
static inline long long db_int(const char *path, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *db = db_open(path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The same, as text (or bytes: `len` gets their number) into buf; "" and
 * len 0 when no row or NULL. */
static inline const char *db_text(const char *path, char *buf, size_t cap, size_t *len,
                                  const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *db = db_open(path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    size_t n = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const void *p = sqlite3_column_blob(st, 0);
        n = (size_t)sqlite3_column_bytes(st, 0);
        assert_true(n < cap);
        memcpy(buf, p, n);
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

/* Waits up to 10 s for `sql` to give `want`; returns the last value. */
static inline long long db_wait_int(const char *path, long long want, const char *sql)
{
    long long v = -2;
    for (int i = 0; i < 500 && (v = db_int(path, "%s", sql)) != want; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return v;
}

#endif
