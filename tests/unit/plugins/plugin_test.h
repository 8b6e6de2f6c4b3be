/* plugin_test: a minimal core-service table, hand-built events and the
 * loader that test_file.c and test_exec.c load the in-tree plugins with
 * (from HOOKD_PLUGIN_DIR). Each test file is its own process. */
#ifndef HOOKD_PLUGIN_TEST_H
#define HOOKD_PLUGIN_TEST_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/loader.h"
#include "deliver/template.h"

static hookd_loader *loader;
static const hookd_plugin *file_p, *exec_p;
static char tmpdir[64];

/* ---- a minimal core ---- */

static inline void t_log(const hookd_api *api, int level, const char *fmt, ...)
{
    (void)api;
    (void)level;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
}

static int64_t mono_skew; /* lets a test move the plugins' clock forward */

static inline int64_t t_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + mono_skew;
}

static inline const char *t_header(const hookd_event *ev, const char *name)
{
    for (size_t i = 0; i < ev->nheaders; i++)
        if (strcasecmp(ev->headers[i].name, name) == 0)
            return ev->headers[i].value;
    return NULL;
}

static const hookd_api api = {
    .struct_size = sizeof(hookd_api),
    .instance_name = "test",
    .log = t_log,
    .monotonic_ms = t_mono,
    .header = t_header,
    .event_json = hookd_event_json,
};

/* ---- helpers ---- */

#define EV_ID "01JDQ3Z8M0ABCDEFGHJKMNPQRS"
#define EV_MS INT64_C(1795694400123)   /* 2026-11-26T12:00:00.123Z */

typedef struct tevent {
    hookd_event ev;
    json_t *json;
    char *body;
} tevent;

static inline void ev_make(tevent *t, const char *body, int64_t timeout_ms)
{
    static const hookd_header hdrs[] = {{"content-type", "application/json"}};
    json_error_t jerr;
    t->body = strdup(body);
    t->json = json_loads(body, 0, &jerr);
    assert_non_null(t->json);
    t->ev = (hookd_event){.id = EV_ID, .source = "ctct", .type = "tier.increase",
                          .received_at_ms = EV_MS, .attempt = 2, .body = t->body,
                          .body_len = strlen(body), .json = t->json, .headers = hdrs,
                          .nheaders = 1, .deadline_ms = t_mono() + timeout_ms};
}

static inline void ev_free(tevent *t)
{
    json_decref(t->json);
    free(t->body);
}

static inline char *tmp_path(const char *name)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0, n;
    do {
        if (len + 4096 + 1 > cap && !(buf = realloc(buf, cap = cap * 2 + 8192)))
            abort();
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* The event object both plugins produce, checked field by field. */
static inline void check_event_object(const json_t *o, const tevent *t)
{
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 6);
    assert_string_equal(json_string_value(json_object_get(o, "id")), EV_ID);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "ctct");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "tier.increase");
    assert_string_equal(json_string_value(json_object_get(o, "received_at")),
                        "2026-11-26T12:00:00.123Z");
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_true(json_equal(json_object_get(o, "body"), t->json));
}

static inline void *start(const hookd_plugin *p, json_t *cfg)
{
    char err[512] = "";
    void *inst = NULL;
    int rc = p->init(&api, cfg, &inst, err, sizeof err);
    json_decref(cfg);
    if (rc != 0)
        fail_msg("%s init: %d %s", p->name, rc, err);
    return inst;
}

static inline void expect_init_error(const hookd_plugin *p, json_t *cfg, int code, const char *want)
{
    char err[512] = "";
    void *inst = NULL;
    int rc = p->init(&api, cfg, &inst, err, sizeof err);
    json_decref(cfg);
    if (rc != code || !strstr(err, want))
        fail_msg("%s init: got %d \"%s\", wanted %d \"%s\"", p->name, rc, err, code, want);
}

static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Is any live (not zombie) process in process group pgid? */
static inline int group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    int alive = 0;
    for (struct dirent *e; d && !alive && (e = readdir(d));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3)
            alive = pgrp == pgid && state != 'Z' && state != 'X';
    }
    if (d)
        closedir(d);
    return alive;
}

/* ---- file ---- */

typedef struct worker {
    const hookd_plugin *p;
    void *inst;
    const hookd_event *ev;
    int n, ok;
} worker;

static inline void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        hookd_status s;
        w->ok += w->p->deliver(w->inst, w->ev, &s) == HOOKD_OK;
    }
    return NULL;
}

static inline void run_workers(const hookd_plugin *p, void *inst, const hookd_event *ev,
                        int threads, int each)
{
    pthread_t th[16];
    worker w[16];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.p = p, .inst = inst, .ev = ev, .n = each};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, each);
    }
}

static inline int setup(void **state)
{
    (void)state;
    const char *dir = getenv("HOOKD_PLUGIN_DIR");
    char err[512] = "";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hookd-plugins-XXXXXX");
    if (!dir || !mkdtemp(tmpdir) || !(loader = hookd_loader_new(dir)))
        return fprintf(stderr, "test_plugins: set HOOKD_PLUGIN_DIR\n"), -1;
    if (!(file_p = hookd_loader_open(loader, "file", err, sizeof err)) ||
        !(exec_p = hookd_loader_open(loader, "exec", err, sizeof err)))
        return fprintf(stderr, "test_plugins: %s\n", err), -1;
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    hookd_loader_free(loader);
    static const char *const names[] = {"events.jsonl", "rot.jsonl", "rot.jsonl.1",
                                        "stdin.json", "pid", "env.txt", "out.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return 0;
}


#endif
