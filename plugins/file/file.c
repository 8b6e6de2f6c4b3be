
/*
 * Copyright (C) hookd authors
 */


/* file: appends every event to a file as one JSON line,
 *   {"id","source","type","received_at","attempt","body"}.
 * Config (file_keys): path (required), fsync. The file is reopened
 * when it was renamed or removed (log rotation). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <hookd/plugin.h>

#include "common/config_map.h"
#include "common/text.h"

typedef struct file_inst {
    const hookd_api *api;
    char *path;
    int fsync;
    pthread_mutex_t lock;   /* fd and every write to it */
    int fd;                 /* -1: reopen before the next write */
    int64_t checked_at;     /* monotonic ms of the last rotation check */
} file_inst;

/* The config: block, read by common/config_map into file_inst. */
static const hookd_config_key file_keys[] = {
    {.name = "path", .type = HOOKD_CONFIG_STRING, .flags = HOOKD_CONFIG_REQUIRED,
     .offset = offsetof(file_inst, path),
     .description = "the file each event is appended to as one JSON line (created 0640)"},
    {.name = "fsync", .type = HOOKD_CONFIG_BOOL, .default_text = "false",
     .offset = offsetof(file_inst, fsync),
     .description = "fsync(2) after every line: slower, survives a power cut"},
    {.name = NULL},
};

/* The event as one JSON object; the core builds it (ABI 1.0 has event_json). */
static json_t *event_object(const hookd_api *api, const hookd_event *ev)
{
    return api->event_json(ev);
}

static void file_destroy(void *instance)
{
    file_inst *f = instance;
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    pthread_mutex_destroy(&f->lock);
    hookd_cmap_free(file_keys, f);
    free(f);
}

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static int file_init(const hookd_api *api, const json_t *config, void **instance,
                     char *err, size_t errlen)
{
    file_inst *f = calloc(1, sizeof *f);
    if (!f) {
        hookd_say(err, errlen, "out of memory");
        return HOOKD_ENOMEM;
    }
    f->api = api;
    f->fd = -1;
    pthread_mutex_init(&f->lock, NULL);

    int rc = hookd_cmap_read(file_keys, NULL, config, f, err, errlen);
    if (rc != 0)
        goto fail;
    /* A path that cannot be opened is a start-up error, not a first-event one. */
    f->fd = open_file(f->path);
    if (f->fd < 0) {
        char buf[128];
        hookd_say(err, errlen, "%s: %s", f->path, strerror_r(errno, buf, sizeof buf));
        rc = HOOKD_EIO;
        goto fail;
    }
    *instance = f;
    return 0;
fail:
    file_destroy(f);
    return rc;
}

/* With the lock held: an fd on the file now at f->path. */
static int ensure_open(file_inst *f)
{
    if (f->fd >= 0) {
        /* Rotation shows within a second; a stat per line costs too much. */
        int64_t now = f->api && f->api->monotonic_ms ? f->api->monotonic_ms() : 0;
        if (now && now < f->checked_at + 1000)
            return 0;
        f->checked_at = now;
        struct stat a, b;
        if (stat(f->path, &a) == 0 && fstat(f->fd, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            return 0;
        close(f->fd);
        f->fd = -1;
        if (f->api && f->api->log)
            f->api->log(f->api, HOOKD_LOG_INFO, "%s was moved or removed; reopening",
                        f->path);
    }
    f->fd = open_file(f->path);
    return f->fd >= 0 ? 0 : -1;
}

/* With the lock held: the whole line, or an errno. */
static int write_line(file_inst *f, const char *line, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(f->fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            /* Take a torn line back (O_APPEND: our bytes are the last ones). */
            struct stat now;
            if (off > 0 && fstat(f->fd, &now) == 0 && now.st_size >= (off_t)off) {
                int rc = ftruncate(f->fd, now.st_size - (off_t)off);
                (void)rc;   /* best effort: the retry appends a whole line anyway */
            }
            return e;
        }
        off += (size_t)w;
    }
    return 0;
}

static int file_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    file_inst *f = instance;
    char buf[128];

    json_t *obj = event_object(f->api, ev);
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    size_t len = s ? strlen(s) : 0;
    char *line = s ? realloc(s, len + 2) : NULL;
    if (!line) {
        free(s);
        hookd_say(st->reason, sizeof st->reason, "out of memory");
        return HOOKD_RETRY;
    }
    line[len++] = '\n';
    line[len] = '\0';

    int result = HOOKD_OK;
    pthread_mutex_lock(&f->lock);
    if (ensure_open(f) != 0) {
        hookd_say(st->reason, sizeof st->reason, "%s: open: %s", f->path,
                 strerror_r(errno, buf, sizeof buf));
        result = HOOKD_RETRY;
    } else {
        const char *what = "write";
        int e = write_line(f, line, len);
        if (e == 0 && f->fsync && fsync(f->fd) != 0) {
            e = errno;
            what = "fsync";
        }
        if (e != 0) {
            hookd_say(st->reason, sizeof st->reason, "%s: %s: %s", f->path, what,
                     strerror_r(e, buf, sizeof buf));
            close(f->fd);   /* reopened by the next delivery */
            f->fd = -1;
            result = HOOKD_RETRY;
        }
    }
    pthread_mutex_unlock(&f->lock);
    free(line);
    return result;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "file",
    .version = "1.0",
    .init = file_init,
    .deliver = file_deliver,
    .destroy = file_destroy,
    .config_keys = file_keys,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }
