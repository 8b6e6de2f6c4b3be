/* Logging: one line per record, JSON or text, to stderr; thread-safe (each
 * record is written with a single write(2)). Never pass a secret here. */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

#include <stdarg.h>
#include <hookd/plugin.h>

/* Optional fields of a record; any may be NULL. */
typedef struct hookd_logctx {
    const char *event;   /* event id */
    const char *source;  /* source name */
    const char *plugin;  /* plugin instance name */
    const char *peer;    /* remote address "ip:port" */
} hookd_logctx;

void hookd_log_setup(int level, int json);
int hookd_log_level(void);
void hookd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hookd_logx(int level, const hookd_logctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hookd_vlogx(int level, const hookd_logctx *ctx, const char *fmt, va_list ap);

#endif
