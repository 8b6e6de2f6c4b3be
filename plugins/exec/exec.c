/* exec: runs a command per event, the event as one JSON line on its stdin
 *   {"id","source","type","received_at","attempt","body"}.
 * Config: command (argv list, required), shell (bool: command[0] is a script
 * for /bin/sh -c, the rest its $0, $1, ...), env (map), inherit_env (bool),
 * workdir. The command runs in its own process group with HOOKD_EVENT_ID,
 * HOOKD_EVENT_TYPE, HOOKD_SOURCE, what `env` names, and of the daemon's own
 * environment only PATH and LANG (all of it with inherit_env: true). Exit 0 is success,
 * 75 (EX_TEMPFAIL) asks for a retry, anything else fails; past the event's
 * deadline the whole group is killed and the delivery retried.
 * Thread-safe: nothing mutable is shared between deliveries, and only our own
 * child is ever waited for. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <hookd/plugin.h>

extern char **environ;

#define EXEC_TEMPFAIL 75     /* sysexits.h EX_TEMPFAIL */
#define CAPTURE_MAX 200      /* bytes of stdout and of stderr kept for the reason */
#define NO_PIDFD_TICK_MS 20  /* how often to look for the exit without a pidfd */

typedef struct exec_inst {
    const hookd_api *api;
    char **argv;       /* NULL-terminated */
    char **env;        /* inherited + configured, NULL-terminated */
    size_t nenv;
    char *workdir;
} exec_inst;

/* ---- the event as JSON (the same object as the file plugin's line) ---- */

/* The event as one JSON object; the core builds it (ABI 1.0 has event_json). */
static json_t *event_object(const hookd_api *api, const hookd_event *ev)
{
    return api->event_json(ev);
}

/* ---- configuration ---- */

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void exec_destroy(void *instance)
{
    exec_inst *x = instance;
    if (!x)
        return;
    free_strv(x->argv);
    free_strv(x->env);
    free(x->workdir);
    free(x);
}

/* A JSON string without NUL bytes, or NULL. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* "NAME=value", malloc'd; NULL on no memory. */
static char *kv(const char *name, const char *value)
{
    char *s;
    return asprintf(&s, "%s=%s", name, value ? value : "") < 0 ? NULL : s;
}

/* Set per event by deliver(): nobody else's value passes. */
static const char *const ours[] = {"HOOKD_EVENT_ID", "HOOKD_EVENT_TYPE", "HOOKD_SOURCE"};
#define NOURS (sizeof ours / sizeof ours[0])

/* What a child gets of the daemon's environment unless inherit_env: not
 * the secrets hookd itself reads from it (API secrets, SMTP passwords). */
static const char *const kept[] = {"PATH", "LANG"};

static int wanted(const char *name, const json_t *env, int inherit)
{
    if (json_object_get(env, name) != NULL)
        return 0; /* `env` sets it */
    for (size_t i = 0; i < NOURS; i++)
        if (strcmp(name, ours[i]) == 0)
            return 0;
    if (inherit)
        return 1;
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (strcmp(name, kept[i]) == 0)
            return 1;
    return 0;
}

/* PATH and LANG (or, with inherit_env, all) of the daemon's environment,
 * minus what `env` or we set, plus `env`. */
static char **build_env(const json_t *env, int inherit, size_t *count)
{
    size_t n = 0, cap = json_object_size(env) + 1;
    for (char **e = environ; e && *e; e++)
        cap++;
    char **out = calloc(cap, sizeof *out);
    if (!out)
        return NULL;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t nl = eq ? (size_t)(eq - *e) : strlen(*e);
        char name[256];
        if (nl >= sizeof name)
            continue;
        memcpy(name, *e, nl);
        name[nl] = '\0';
        if (wanted(name, env, inherit) && !(out[n++] = strdup(*e)))
            goto nomem;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)env, key, v) {
        if (!(out[n++] = kv(key, json_string_value(v))))
            goto nomem;
    }
    *count = n;
    return out;
nomem:
    free_strv(out);
    return NULL;
}

/* Sets err, returns rc. */
static __attribute__((format(printf, 4, 5))) int bad(char *err, size_t errlen, int rc,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int parse_config(exec_inst *x, const json_t *config, char *err, size_t errlen)
{
    const json_t *command = NULL, *env = NULL;
    int shell = 0, inherit = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v) {
        if (strcmp(key, "command") == 0) {
            command = v;
        } else if (strcmp(key, "shell") == 0) {
            if (!json_is_boolean(v))
                return bad(err, errlen, HOOKD_EINVAL, "shell: expected true or false");
            shell = json_is_true(v);
        } else if (strcmp(key, "env") == 0) {
            env = v;
        } else if (strcmp(key, "inherit_env") == 0) {
            if (!json_is_boolean(v))
                return bad(err, errlen, HOOKD_EINVAL, "inherit_env: expected true or false");
            inherit = json_is_true(v);
        } else if (strcmp(key, "workdir") == 0) {
            const char *s = plain_string(v);
            struct stat st;
            if (!s || !*s)
                return bad(err, errlen, HOOKD_EINVAL, "workdir: expected a non-empty string");
            if (stat(s, &st) != 0 || !S_ISDIR(st.st_mode))
                return bad(err, errlen, HOOKD_EINVAL, "workdir: %s: not a directory", s);
            if (!(x->workdir = strdup(s)))
                return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
        } else {
            return bad(err, errlen, HOOKD_EINVAL, "unknown key \"%s\"", key);
        }
    }

    if (!command)
        return bad(err, errlen, HOOKD_EINVAL, "missing required key \"command\"");
    size_t argc = json_array_size(command);
    if (!json_is_array(command) || argc == 0)
        return bad(err, errlen, HOOKD_EINVAL, "command: expected a non-empty list of strings");
    for (size_t i = 0; i < argc; i++) {
        const char *s = plain_string(json_array_get(command, i));
        if (!s || (i == 0 && !*s))
            return bad(err, errlen, HOOKD_EINVAL, "command[%zu]: expected a %sstring", i,
                       i == 0 ? "non-empty " : "");
    }
    if (env) {
        if (!json_is_object(env))
            return bad(err, errlen, HOOKD_EINVAL, "env: expected a map of strings");
        json_object_foreach((json_t *)env, key, v) {
            if (!*key || strchr(key, '=') || !plain_string(v))
                return bad(err, errlen, HOOKD_EINVAL,
                           "env.%s: expected a name without '=' and a string", key);
        }
    }

    /* shell: /bin/sh -c command[0] command[1] ... (these are $0, $1, ...). */
    size_t pre = shell ? 2 : 0;
    if (!(x->argv = calloc(pre + argc + 1, sizeof *x->argv)))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    if (shell && (!(x->argv[0] = strdup("/bin/sh")) || !(x->argv[1] = strdup("-c"))))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < argc; i++)
        if (!(x->argv[pre + i] = strdup(json_string_value(json_array_get(command, i)))))
            return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    if (x->argv[0][0] == '/' && access(x->argv[0], X_OK) != 0)
        return bad(err, errlen, HOOKD_EINVAL, "command[0]: %s: not an executable file",
                   x->argv[0]);
    if (!(x->env = build_env(env, inherit, &x->nenv)))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    return 0;
}

static int exec_init(const hookd_api *api, const json_t *config, void **instance,
                     char *err, size_t errlen)
{
    exec_inst *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return HOOKD_ENOMEM;
    }
    x->api = api;
    int rc = parse_config(x, config, err, errlen);
    if (rc != 0) {
        exec_destroy(x);
        return rc;
    }
    *instance = x;
    return 0;
}

/* ---- delivery ---- */

typedef struct capture {
    int fd;              /* -1 once at EOF */
    char buf[CAPTURE_MAX + 1];
    size_t len;
} capture;

static int64_t now_ms(const exec_inst *x)
{
    struct timespec ts;
    if (x->api && x->api->monotonic_ms)
        return x->api->monotonic_ms();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is there now; closes at EOF or error. */
static void drain(capture *c)
{
    while (c->fd >= 0) {
        char scratch[4096];
        char *dst = c->len < CAPTURE_MAX ? c->buf + c->len : scratch;
        size_t room = c->len < CAPTURE_MAX ? CAPTURE_MAX - c->len : sizeof scratch;
        ssize_t r = read(c->fd, dst, room);
        if (r > 0) {
            if (dst != scratch)
                c->len += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        close(c->fd);
        c->fd = -1;
    }
}

/* The first non-blank line of stderr, else of stdout, trimmed and printable. */
static void first_line(capture *err, capture *out, char *dst, size_t dstlen)
{
    static const char blank[] = " \t\r\n\v\f";
    err->buf[err->len] = out->buf[out->len] = '\0';
    capture *c = err->buf[strspn(err->buf, blank)] ? err : out;
    const char *p = c->buf + strspn(c->buf, blank);
    size_t n = strcspn(p, "\r\n");
    while (n > 0 && strchr(blank, p[n - 1]))
        n--;
    if (n >= dstlen)
        n = dstlen - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)p[i] < ' ' || p[i] == 0x7f ? ' ' : p[i];
    dst[n] = '\0';
}

static char *event_line(const exec_inst *x, const hookd_event *ev, size_t *len)
{
    json_t *obj = event_object(x->api, ev);
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!s)
        return NULL;
    *len = strlen(s);
    char *line = realloc(s, *len + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[(*len)++] = '\n';
    line[*len] = '\0';
    return line;
}

static int spawn(const exec_inst *x, char **envp, int in[2], int out[2], int err[2],
                 pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    /* Signals the daemon ignores or blocks (SIGPIPE, ...) must not stay so. */
    sigemptyset(&none);
    sigemptyset(&dfl);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaddset(&dfl, s);
    rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                           POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &dfl);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    if (!rc && x->workdir) rc = posix_spawn_file_actions_addchdir_np(&fa, x->workdir);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!rc)
        rc = posix_spawnp(pid, x->argv[0], &fa, &at, x->argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Feeds stdin, collects output, until the child exits or the deadline.
 * Returns 1 with *status set on exit, 0 on timeout (the group is killed), -1
 * if the child was reaped by someone else (SIGCHLD ignored by the process). */
static int supervise(const exec_inst *x, pid_t pid, int64_t deadline, const char *line,
                     size_t len, int *in_fd, capture *out, capture *err, int *status)
{
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);   /* O_CLOEXEC by design */
#endif
    size_t off = 0;
    int exited = 0;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) {
            exited = w == pid ? 1 : -1;
            break;
        }
        int64_t left = deadline - now_ms(x);
        if (left <= 0)
            break;
        struct pollfd p[4];
        int np = 0, iin = -1, iout = -1, ierr = -1;
        if (*in_fd >= 0)
            p[iin = np++] = (struct pollfd){.fd = *in_fd, .events = POLLOUT};
        if (out->fd >= 0)
            p[iout = np++] = (struct pollfd){.fd = out->fd, .events = POLLIN};
        if (err->fd >= 0)
            p[ierr = np++] = (struct pollfd){.fd = err->fd, .events = POLLIN};
        if (pidfd >= 0)
            p[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        int64_t cap = pidfd >= 0 ? 60000 : NO_PIDFD_TICK_MS;
        int64_t wait = left < cap ? left : cap;
        if (poll(p, (nfds_t)np, (int)wait) < 0 && errno != EINTR)
            break;
        if (iin >= 0 && p[iin].revents) {
            ssize_t r = write(*in_fd, line + off, len - off);
            if (r > 0)
                off += (size_t)r;
            /* EPIPE (the command does not read its input) or done: close. */
            if (off == len || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close(*in_fd);
                *in_fd = -1;
            }
        }
        if (iout >= 0 && p[iout].revents)
            drain(out);
        if (ierr >= 0 && p[ierr].revents)
            drain(err);
    }
    if (pidfd >= 0)
        close(pidfd);
    if (!exited) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
            ;
        return 0;
    }
    /* Output written before the exit is in the pipes; take it, but do not wait
     * for EOF: a background grandchild may hold them open. */
    drain(out);
    drain(err);
    return exited;
}

static int exec_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    exec_inst *x = instance;
    int result = HOOKD_RETRY;
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    char **envp = NULL;
    char *mine[NOURS] = {NULL};
    size_t len = 0;
    char *line = event_line(x, ev, &len);
    char ebuf[128];

    int64_t start = now_ms(x);
    int64_t deadline = ev->deadline_ms > 0 ? ev->deadline_ms : INT64_MAX;
    if (!line)
        goto nomem;
    if (start >= deadline) {
        snprintf(st->reason, sizeof st->reason, "timed out after 0 ms (deadline passed)");
        goto done;
    }
    const char *vals[NOURS] = {ev->id, ev->type, ev->source};
    if (!(envp = calloc(x->nenv + NOURS + 1, sizeof *envp)))
        goto nomem;
    memcpy(envp, x->env, x->nenv * sizeof *envp);
    for (size_t i = 0; i < NOURS; i++)
        if (!(envp[x->nenv + i] = mine[i] = kv(ours[i], vals[i])))
            goto nomem;

    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0 ||
        pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(st->reason, sizeof st->reason, "pipe: %s",
                 strerror_r(errno, ebuf, sizeof ebuf));
        goto done;
    }
    pid_t pid;
    int rc = spawn(x, envp, in, outp, errp, &pid);
    close(in[0]);
    close(outp[1]);
    close(errp[1]);
    in[0] = outp[1] = errp[1] = -1;
    if (rc != 0) {
        /* A missing or unusable command fails like its exit 127 would. */
        int permanent = rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR ||
                        rc == ELOOP || rc == ENAMETOOLONG;
        result = permanent ? HOOKD_FAIL : HOOKD_RETRY;
        snprintf(st->reason, sizeof st->reason, "cannot run %s%s%s: %s", x->argv[0],
                 x->workdir ? " in " : "", x->workdir ? x->workdir : "",
                 strerror_r(rc, ebuf, sizeof ebuf));
        goto done;
    }
    /* Our ends only: the child's stay blocking. No other status flags are set. */
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);

    /* EPIPE rather than SIGPIPE for this thread, whatever the process does. */
    sigset_t pipeset, old;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    capture out = {.fd = outp[0]}, err = {.fd = errp[0]};
    outp[0] = errp[0] = -1;
    int status = 0;
    int finished = supervise(x, pid, deadline, line, len, &in[1], &out, &err, &status);
    if (!sigismember(&old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (in[1] >= 0)
        close(in[1]);
    in[1] = -1;
    if (out.fd >= 0)
        close(out.fd);
    if (err.fd >= 0)
        close(err.fd);

    char first[160];
    first_line(&err, &out, first, sizeof first);
    const char *sep = first[0] ? ": " : "";
    if (finished < 0) {
        result = HOOKD_RETRY;
        snprintf(st->reason, sizeof st->reason, "exit status lost (reaped elsewhere)%s%s",
                 sep, first);
    } else if (!finished) {
        result = HOOKD_RETRY;
        snprintf(st->reason, sizeof st->reason, "timed out after %lld ms",
                 (long long)(deadline - start));
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        result = code == 0 ? HOOKD_OK : code == EXEC_TEMPFAIL ? HOOKD_RETRY : HOOKD_FAIL;
        if (code != 0)
            snprintf(st->reason, sizeof st->reason, "exit status %d%s%s", code, sep, first);
    } else {
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        const char *abbr = sig ? sigabbrev_np(sig) : NULL;
        result = HOOKD_FAIL;
        snprintf(st->reason, sizeof st->reason, "killed by signal %d (SIG%s)%s%s", sig,
                 abbr ? abbr : "?", sep, first);
    }
    goto done;

nomem:
    snprintf(st->reason, sizeof st->reason, "out of memory");
    result = HOOKD_RETRY;
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (outp[i] >= 0) close(outp[i]);
        if (errp[i] >= 0) close(errp[i]);
    }
    free(envp);
    for (size_t i = 0; i < NOURS; i++)
        free(mine[i]);
    free(line);
    return result;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "exec",
    .version = "1.0",
    .init = exec_init,
    .deliver = exec_deliver,
    .destroy = exec_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }
