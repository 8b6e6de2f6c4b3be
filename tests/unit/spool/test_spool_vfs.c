/* Unit tests for core/spool_vfs.c: a database written through the gathering
 * VFS, read at once through the default one by another connection, as the
 * checkpointer and `hookd events` do. Every commit must be whole in the WAL
 * file when it returns, however it was written (small, spilled, rolled back,
 * bigger than the buffer), and it must take one write, not two a frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "spool/spool_vfs.h"

/* Counts the unix VFS's writes, whichever system call it uses. */
static int writes;
static sqlite3_syscall_ptr real_pwrite64, real_pwrite, real_write;
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
static ssize_t count_pwrite64(int fd, const void *p, size_t n, off_t off)
{
    writes++;
    return ((pwrite_fn)real_pwrite64)(fd, p, n, off);
}
static ssize_t count_pwrite(int fd, const void *p, size_t n, off_t off)
{
    writes++;
    return ((pwrite_fn)real_pwrite)(fd, p, n, off);
}
static ssize_t count_write(int fd, const void *p, size_t n)
{
    writes++;
    return ((write_fn)real_write)(fd, p, n);
}

typedef struct fixture {
    char dir[64], path[96];
    sqlite3 *w, *r; /* writer (gathering VFS), reader (default VFS) */
} fixture;

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

static long long one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hookd-vfs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/s.db", f->dir);
    assert_int_equal(hookd_spool_vfs_register(), SQLITE_OK);
    assert_int_equal(sqlite3_open_v2(f->path, &f->w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     HOOKD_SPOOL_VFS), SQLITE_OK);
    /* No checkpoint: every write counted is the WAL's. */
    exec_ok(f->w, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                  " PRAGMA wal_autocheckpoint=0;"
                  " CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB, n INTEGER);"
                  " CREATE INDEX t_n ON t(n);");
    assert_int_equal(sqlite3_open_v2(f->path, &f->r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sqlite3_close(f->r);
    sqlite3_close(f->w);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* n rows of `size` random bytes. */
static void insert(sqlite3 *db, int n, int size)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
             " INSERT INTO t(v, n) SELECT randomblob(%d), abs(random()) %% 1000 FROM c",
             n, size);
    exec_ok(db, sql);
}

static void test_each_commit_is_visible_and_one_write(void **state)
{
    fixture *f = *state;
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    assert_non_null(unix_vfs);
    real_pwrite64 = unix_vfs->xGetSystemCall(unix_vfs, "pwrite64");
    real_pwrite = unix_vfs->xGetSystemCall(unix_vfs, "pwrite");
    real_write = unix_vfs->xGetSystemCall(unix_vfs, "write");
    if (real_pwrite64)
        unix_vfs->xSetSystemCall(unix_vfs, "pwrite64", (sqlite3_syscall_ptr)count_pwrite64);
    if (real_pwrite)
        unix_vfs->xSetSystemCall(unix_vfs, "pwrite", (sqlite3_syscall_ptr)count_pwrite);
    unix_vfs->xSetSystemCall(unix_vfs, "write", (sqlite3_syscall_ptr)count_write);
    int most = 0;
    for (int i = 1; i <= 100; i++) {
        writes = 0;
        exec_ok(f->w, "BEGIN");
        insert(f->w, 20, 400); /* about 3 pages of rows, plus the index */
        exec_ok(f->w, "COMMIT");
        if (writes > most)
            most = writes;
        assert_int_equal(one_int(f->r, "SELECT count(*) FROM t"), 20 * i);
    }
    unix_vfs->xSetSystemCall(unix_vfs, NULL, NULL); /* all back to the defaults */
    /* Each commit wrote 4 or more frames: 8 or more writes without gathering. */
    assert_true(most >= 1);
    assert_true(most <= 1 + 1); /* the frames, and at first the WAL header */
    integrity_ok(f->r);
}

static void test_spilled_transaction_and_rollback(void **state)
{
    fixture *f = *state;
    /* A cache of 8 pages: a transaction spills frames into the WAL before
     * its commit, and may write a page's frame again in place. */
    exec_ok(f->w, "PRAGMA cache_size=8");
    exec_ok(f->w, "BEGIN");
    insert(f->w, 3000, 300);
    exec_ok(f->w, "UPDATE t SET v = randomblob(200), n = n + 1 WHERE k % 3 = 0");
    exec_ok(f->w, "COMMIT");
    assert_int_equal(one_int(f->r, "SELECT count(*) FROM t"), 3000);
    exec_ok(f->w, "BEGIN");
    insert(f->w, 3000, 300);
    exec_ok(f->w, "ROLLBACK");
    exec_ok(f->w, "BEGIN");
    insert(f->w, 10, 100);
    exec_ok(f->w, "COMMIT");
    assert_int_equal(one_int(f->r, "SELECT count(*) FROM t"), 3010);
    assert_int_equal(one_int(f->r, "SELECT count(*) FROM t WHERE length(v) = 200"), 1000);
    integrity_ok(f->r);
}

static void test_commit_bigger_than_the_buffer(void **state)
{
    fixture *f = *state;
    /* 3 MiB in one commit: written in pieces, each under the unix VFS's
     * 128 KiB a call. */
    exec_ok(f->w, "BEGIN");
    insert(f->w, 3 * 256, 4096);
    exec_ok(f->w, "COMMIT");
    assert_int_equal(one_int(f->r, "SELECT count(*) FROM t"), 768);
    assert_int_equal(one_int(f->r, "SELECT sum(length(v)) FROM t"), 768 * 4096);
    integrity_ok(f->r);
}

static void test_checkpoint_and_reopen(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 20; i++)
        insert(f->w, 50, 200);
    /* The checkpoint reads the WAL through the gathering file; the WAL then
     * starts over (a new header) on the next commit. */
    exec_ok(f->w, "PRAGMA wal_checkpoint(TRUNCATE)");
    insert(f->w, 5, 200);
    sqlite3_close(f->w);
    assert_int_equal(sqlite3_open_v2(f->path, &f->w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(one_int(f->w, "SELECT count(*) FROM t"), 1005);
    assert_int_equal(one_int(f->r, "SELECT count(*) FROM t"), 1005);
    integrity_ok(f->w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_commit_is_visible_and_one_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spilled_transaction_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_bigger_than_the_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_and_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
