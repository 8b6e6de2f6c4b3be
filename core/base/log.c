/* log: one record per line, JSON or text, written with one write(2) so that
 * lines from the loop and the worker threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A reload sets them while other threads log. */
static _Atomic int log_min = HOOKD_LOG_INFO;
static _Atomic int log_as_json = 0;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hookd_log_setup(int level, int json)
{
    log_min = level;
    log_as_json = json;
}

int hookd_log_level(void) { return log_min; }

/* Appends s as the inside of a JSON string, bounded by the buffer. */
static size_t put_json_str(char *buf, size_t at, size_t cap, const char *s)
{
    for (; *s && at + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char)c;
        } else if (c < 0x20) {
            at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
        } else {
            buf[at++] = (char)c;
        }
    }
    return at;
}

static size_t put_raw(char *buf, size_t at, size_t cap, const char *s)
{
    for (; *s && at + 1 < cap; s++)
        buf[at++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    return at;
}

void hookd_vlogx(int level, const hookd_logctx *ctx, const char *fmt, va_list ap)
{
    if (level < log_min)
        return;
    if (level < HOOKD_LOG_DEBUG || level > HOOKD_LOG_ERROR)
        level = HOOKD_LOG_ERROR;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000));

    const char *keys[] = {"event", "source", "plugin", "peer"};
    const char *vals[4] = {0};
    if (ctx) {
        vals[0] = ctx->event;
        vals[1] = ctx->source;
        vals[2] = ctx->plugin;
        vals[3] = ctx->peer;
    }

    char line[2048];
    size_t cap = sizeof line - 2, at = 0;
    if (log_as_json) {
        at += (size_t)snprintf(line, cap, "{\"time\":\"%s\",\"level\":\"%s\"", when,
                               level_names[level]);
        for (int i = 0; i < 4; i++) {
            if (!vals[i])
                continue;
            at += (size_t)snprintf(line + at, cap - at, ",\"%s\":\"", keys[i]);
            if (at > cap)
                at = cap;
            at = put_json_str(line, at, cap, vals[i]);
            at = put_raw(line, at, cap, "\"");
        }
        at = put_raw(line, at, cap, ",\"msg\":\"");
        at = put_json_str(line, at, cap, msg);
        at = put_raw(line, at, cap, "\"}");
    } else {
        at += (size_t)snprintf(line, cap, "%s %-5s", when, level_names[level]);
        for (int i = 0; i < 4; i++) {
            if (!vals[i])
                continue;
            at += (size_t)snprintf(line + at, cap - at, " %s=", keys[i]);
            if (at > cap)
                at = cap;
            at = put_raw(line, at, cap, vals[i]);
        }
        at = put_raw(line, at, cap, " ");
        at = put_raw(line, at, cap, msg);
    }
    if (at > cap)
        at = cap;
    line[at++] = '\n';
    ssize_t n = write(STDERR_FILENO, line, at);
    (void)n;
}

void hookd_logx(int level, const hookd_logctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hookd_vlogx(level, ctx, fmt, ap);
    va_end(ap);
}

void hookd_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hookd_vlogx(level, NULL, fmt, ap);
    va_end(ap);
}
