/* spool_vfs: gathers the writes of a WAL file into one per commit.
 *
 * SQLite writes each WAL frame as two pwrite()s, its 24-byte header and then
 * the page. A group commit of 25 frames was 50 system calls, and on a VM a
 * system call costs more than copying the page (3.5 us a frame against
 * 0.33 us gathered, measured here). This VFS is the default one with a
 * WAL file's writes kept in a buffer while they are contiguous, and written
 * with one call when the page of a commit frame arrives.
 *
 * What SQLite relies on still holds: a commit is published to readers (the
 * WAL index) only after its frames are written, and the last frame SQLite
 * writes for a commit is a commit frame (its header's second word, the
 * database size, is not zero: the WAL format), so every byte is in the file
 * before that write returns. A write that is not contiguous, a read, a sync,
 * a truncation, a size, a file control and the close write what is gathered
 * first. Only WAL files are wrapped; the database and journals are not. */
#include "spool_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 24          /* the WAL format's frame header */
#define GATHER_MAX (1 << 20)     /* bytes held at most; a bigger commit writes in pieces */
/* The unix VFS writes at most 17 bits' worth of bytes a call (it masks the
 * length: a 128 KiB write would be a 0-byte one, reported as a full disk). */
#define WRITE_MAX 0x1f000

typedef struct gfile {
    sqlite3_file base;
    sqlite3_file *real;          /* the default VFS's file, right after this struct */
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 off;           /* the file offset of buf[0] */
    int commit_page_next;        /* the last write was a commit frame's header */
} gfile;

#define REAL_OFFSET ((sizeof(gfile) + 7) & ~(size_t)7)

static sqlite3_vfs *root;
static sqlite3_vfs vfs;
static sqlite3_io_methods methods;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = SQLITE_ERROR;

static int flush(gfile *g)
{
    size_t len = g->len, done = 0;
    g->len = 0; /* a failed write fails the commit: its frames are not published */
    while (done < len) {
        size_t n = len - done < WRITE_MAX ? len - done : WRITE_MAX;
        int rc = g->real->pMethods->xWrite(g->real, g->buf + done, (int)n,
                                           g->off + (sqlite3_int64)done);
        if (rc != SQLITE_OK)
            return rc;
        done += n;
    }
    return SQLITE_OK;
}

static int g_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    gfile *g = (gfile *)f;
    int rc;
    if (g->len && (off != g->off + (sqlite3_int64)g->len || g->len + (size_t)n > GATHER_MAX) &&
        (rc = flush(g)) != SQLITE_OK)
        return rc;
    if (g->len + (size_t)n > g->cap) {
        size_t cap = g->cap ? g->cap : 64 * 1024;
        while (cap < g->len + (size_t)n)
            cap *= 2;
        unsigned char *nb = cap <= GATHER_MAX ? realloc(g->buf, cap) : NULL;
        if (!nb) { /* too big to gather, or no memory: write it through */
            if ((rc = flush(g)) != SQLITE_OK)
                return rc;
            g->commit_page_next = 0;
            return g->real->pMethods->xWrite(g->real, p, n, off);
        }
        g->buf = nb;
        g->cap = cap;
    }
    if (g->len == 0)
        g->off = off;
    memcpy(g->buf + g->len, p, (size_t)n);
    g->len += (size_t)n;
    if (g->commit_page_next) {
        g->commit_page_next = 0;
        return flush(g);
    }
    if (n == FRAME_HEADER) {
        const unsigned char *h = p;
        g->commit_page_next = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    return SQLITE_OK;
}

static int g_close(sqlite3_file *f)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    int rc2 = g->real->pMethods->xClose(g->real);
    free(g->buf);
    g->buf = NULL;
    g->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int g_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    return rc != SQLITE_OK ? rc : g->real->pMethods->xRead(g->real, p, n, off);
}

static int g_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    return rc != SQLITE_OK ? rc : g->real->pMethods->xTruncate(g->real, size);
}

static int g_sync(sqlite3_file *f, int flags)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    return rc != SQLITE_OK ? rc : g->real->pMethods->xSync(g->real, flags);
}

static int g_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    return rc != SQLITE_OK ? rc : g->real->pMethods->xFileSize(g->real, size);
}

static int g_file_control(sqlite3_file *f, int op, void *arg)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    return rc != SQLITE_OK ? rc : g->real->pMethods->xFileControl(g->real, op, arg);
}

static int g_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    gfile *g = (gfile *)f;
    int rc = flush(g);
    return rc != SQLITE_OK ? rc : g->real->pMethods->xFetch(g->real, off, n, pp);
}

/* The rest only pass through. */
#define REAL(f) (((gfile *)(f))->real)
static int g_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int g_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int g_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int g_sector_size(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int g_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int g_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int g_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void g_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int g_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int g_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int g_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
    (void)v;
    if (!(flags & SQLITE_OPEN_WAL)) /* the default VFS's file, as it is: it fits */
        return root->xOpen(root, name, f, flags, out);
    gfile *g = (gfile *)f;
    memset(g, 0, sizeof *g);
    g->real = (sqlite3_file *)((char *)f + REAL_OFFSET);
    int rc = root->xOpen(root, name, g->real, flags, out);
    if (rc != SQLITE_OK || !g->real->pMethods || g->real->pMethods->iVersion < 3) {
        if (rc == SQLITE_OK) { /* never with the unix VFS; but do not gather blind */
            g->real->pMethods->xClose(g->real);
            rc = SQLITE_CANTOPEN;
        }
        g->base.pMethods = NULL;
        return rc;
    }
    g->base.pMethods = &methods;
    return SQLITE_OK;
}

static void setup(void)
{
    if (!(root = sqlite3_vfs_find(NULL)))
        return;
    methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = g_close,
        .xRead = g_read,
        .xWrite = g_write,
        .xTruncate = g_truncate,
        .xSync = g_sync,
        .xFileSize = g_file_size,
        .xLock = g_lock,
        .xUnlock = g_unlock,
        .xCheckReservedLock = g_check_reserved,
        .xFileControl = g_file_control,
        .xSectorSize = g_sector_size,
        .xDeviceCharacteristics = g_device,
        .xShmMap = g_shm_map,
        .xShmLock = g_shm_lock,
        .xShmBarrier = g_shm_barrier,
        .xShmUnmap = g_shm_unmap,
        .xFetch = g_fetch,
        .xUnfetch = g_unfetch,
    };
    /* Everything else is the default VFS's own (it reads nothing of the
     * sqlite3_vfs it is called with that differs here). */
    vfs = *root;
    vfs.pNext = NULL;
    vfs.zName = HOOKD_SPOOL_VFS;
    vfs.szOsFile = (int)(REAL_OFFSET + (size_t)root->szOsFile);
    vfs.xOpen = g_open;
    registered = sqlite3_vfs_register(&vfs, 0);
}

int hookd_spool_vfs_register(void)
{
    pthread_once(&once, setup);
    return registered;
}
