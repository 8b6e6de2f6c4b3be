/* exec: runs a command per event, the event as one JSON line on its stdin
 *   {"id","source","type","received_at","attempt","body"}.
 * Config (exec_keys): command (argv list, required), shell (bool: command[0]
 * is a script for /bin/sh -c, the rest its $0, $1, ...), env (map),
 * inherit_env (bool), workdir. The command runs in its own process group with HOOKD_EVENT_ID,
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <hookd/plugin.h>

#include "common/config_map.h"
#include "common/text.h"

extern char **environ;

#define EXEC_TEMPFAIL 75     /* sysexits.h EX_TEMPFAIL */
#define CAPTURE_MAX 200      /* bytes of stdout and of stderr kept for the reason */
#define NO_PIDFD_TICK_MS 20  /* how often to look for the exit without a pidfd */

typedef struct exec_inst {
    const hookd_api *api;
    /* Read by exec_keys. */
    hookd_cmap_list command;
    int shell, inherit;
    const json_t *envmap;  /* during init only */
    char *workdir;
    /* Built from them. */
    char **argv;       /* NULL-terminated */
    char **env;        /* inherited + configured, NULL-terminated */
    size_t nenv;
} exec_inst;

static const hookd_config_key exec_keys[] = {
    {.name = "command", .type = HOOKD_CONFIG_LIST,
     .flags = HOOKD_CONFIG_REQUIRED | HOOKD_CONFIG_NONEMPTY, .offset = offsetof(exec_inst, command),
     .description = "the program and its arguments (no shell unless shell: true)"},
    {.name = "shell", .type = HOOKD_CONFIG_BOOL, .default_text = "false",
     .offset = offsetof(exec_inst, shell),
     .description = "command[0] is a script for /bin/sh -c, the rest its $0, $1, ..."},
    {.name = "env", .type = HOOKD_CONFIG_MAP, .offset = offsetof(exec_inst, envmap),
     .description = "variables set for the command"},
    {.name = "inherit_env", .type = HOOKD_CONFIG_BOOL, .default_text = "false",
     .offset = offsetof(exec_inst, inherit),
     .description = "pass all of hookd's environment, not only PATH and LANG"},
    {.name = "workdir", .type = HOOKD_CONFIG_FILE, .flags = HOOKD_CONFIG_DIR,
     .offset = offsetof(exec_inst, workdir),
     .description = "the directory the command runs in"},
    {.name = NULL},
};

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
    hookd_cmap_free(exec_keys, x);
    free(x);
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

static int parse_config(exec_inst *x, const json_t *config, char *err, size_t errlen)
{
    int rc = hookd_cmap_read(exec_keys, NULL, config, x, err, errlen);
    if (rc != 0)
        return rc;
    if (!*x->command.v[0]) {
        hookd_say(err, errlen, "command[0]: expected a non-empty string");
        return HOOKD_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)x->envmap, key, v) {
        if (!*key || strchr(key, '=')) {
            hookd_say(err, errlen, "env.%s: expected a name without '='", key);
            return HOOKD_EINVAL;
        }
    }

    /* shell: /bin/sh -c command[0] command[1] ... (these are $0, $1, ...). */
    size_t pre = x->shell ? 2 : 0, argc = x->command.n;
    if (!(x->argv = calloc(pre + argc + 1, sizeof *x->argv)))
        goto nomem;
    if (x->shell && (!(x->argv[0] = strdup("/bin/sh")) || !(x->argv[1] = strdup("-c"))))
        goto nomem;
    for (size_t i = 0; i < argc; i++)
        if (!(x->argv[pre + i] = strdup(x->command.v[i])))
            goto nomem;
    if (x->argv[0][0] == '/' && access(x->argv[0], X_OK) != 0) {
        hookd_say(err, errlen, "command[0]: %s: not an executable file", x->argv[0]);
        return HOOKD_EINVAL;
    }
    if (!(x->env = build_env(x->envmap, x->inherit, &x->nenv)))
        goto nomem;
    x->envmap = NULL;   /* the config is not ours past init */
    return 0;
nomem:
    hookd_say(err, errlen, "out of memory");
    return HOOKD_ENOMEM;
}

static int exec_init(const hookd_api *api, const json_t *config, void **instance,
                     char *err, size_t errlen)
{
    exec_inst *x = calloc(1, sizeof *x);
    if (!x) {
        hookd_say(err, errlen, "out of memory");
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

/* One delivery's resources; run_free releases whatever was made. */
typedef struct run {
    int in[2], out[2], err[2];   /* the child's stdin, stdout, stderr pipes */
    char **envp;                 /* x->env's strings, then mine, then NULL */
    char *mine[NOURS];
    char *line;                  /* the event, one JSON line */
    size_t len;
} run;

static void run_free(run *r)
{
    for (int i = 0; i < 2; i++) {
        if (r->in[i] >= 0) close(r->in[i]);
        if (r->out[i] >= 0) close(r->out[i]);
        if (r->err[i] >= 0) close(r->err[i]);
    }
    free(r->envp);
    for (size_t i = 0; i < NOURS; i++)
        free(r->mine[i]);
    free(r->line);
}

/* The event line and the child's environment; -1 on no memory. */
static int run_prepare(const exec_inst *x, const hookd_event *ev, run *r)
{
    const char *vals[NOURS] = {ev->id, ev->type, ev->source};
    if (!(r->line = event_line(x, ev, &r->len)))
        return -1;
    if (!(r->envp = calloc(x->nenv + NOURS + 1, sizeof *r->envp)))
        return -1;
    memcpy(r->envp, x->env, x->nenv * sizeof *r->envp);
    for (size_t i = 0; i < NOURS; i++)
        if (!(r->envp[x->nenv + i] = r->mine[i] = kv(ours[i], vals[i])))
            return -1;
    return 0;
}

/* The pipes and the child: HOOKD_OK with *pid set, or the delivery's result
 * with the reason in st. */
static int run_start(const exec_inst *x, run *r, pid_t *pid, hookd_status *st)
{
    char ebuf[128];
    if (pipe2(r->in, O_CLOEXEC) != 0 || pipe2(r->out, O_CLOEXEC) != 0 ||
        pipe2(r->err, O_CLOEXEC) != 0) {
        hookd_say(st->reason, sizeof st->reason, "pipe: %s",
                  strerror_r(errno, ebuf, sizeof ebuf));
        return HOOKD_RETRY;
    }
    int rc = spawn(x, r->envp, r->in, r->out, r->err, pid);
    close(r->in[0]);
    close(r->out[1]);
    close(r->err[1]);
    r->in[0] = r->out[1] = r->err[1] = -1;
    if (rc != 0) {
        /* A missing or unusable command fails like its exit 127 would. */
        int permanent = rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR ||
                        rc == ELOOP || rc == ENAMETOOLONG;
        hookd_say(st->reason, sizeof st->reason, "cannot run %s%s%s: %s", x->argv[0],
                  x->workdir ? " in " : "", x->workdir ? x->workdir : "",
                  strerror_r(rc, ebuf, sizeof ebuf));
        return permanent ? HOOKD_FAIL : HOOKD_RETRY;
    }
    /* Our ends only: the child's stay blocking. No other status flags are set. */
    fcntl(r->in[1], F_SETFL, O_NONBLOCK);
    fcntl(r->out[0], F_SETFL, O_NONBLOCK);
    fcntl(r->err[0], F_SETFL, O_NONBLOCK);
    return HOOKD_OK;
}

/* Feeds and watches the child until it ends or the deadline; the first line
 * of its output into first. Returns what supervise() does. */
static int run_wait(const exec_inst *x, run *r, pid_t pid, int64_t deadline, int *status,
                    char *first, size_t firstlen)
{
    /* EPIPE rather than SIGPIPE for this thread, whatever the process does. */
    sigset_t pipeset, old;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    capture out = {.fd = r->out[0]}, err = {.fd = r->err[0]};
    r->out[0] = r->err[0] = -1;
    int finished = supervise(x, pid, deadline, r->line, r->len, &r->in[1], &out, &err, status);
    if (!sigismember(&old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r->in[1] >= 0)
        close(r->in[1]);
    r->in[1] = -1;
    if (out.fd >= 0)
        close(out.fd);
    if (err.fd >= 0)
        close(err.fd);
    first_line(&err, &out, first, firstlen);
    return finished;
}

/* What the child's end means: exit 0 succeeds, 75 retries, the rest fails. */
static int judge(int finished, int status, const char *first, int64_t waited_ms,
                 hookd_status *st)
{
    const char *sep = first[0] ? ": " : "";
    if (finished < 0) {
        hookd_say(st->reason, sizeof st->reason, "exit status lost (reaped elsewhere)%s%s",
                  sep, first);
        return HOOKD_RETRY;
    }
    if (!finished) {
        hookd_say(st->reason, sizeof st->reason, "timed out after %lld ms",
                  (long long)waited_ms);
        return HOOKD_RETRY;
    }
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code != 0)
            hookd_say(st->reason, sizeof st->reason, "exit status %d%s%s", code, sep, first);
        return code == 0 ? HOOKD_OK : code == EXEC_TEMPFAIL ? HOOKD_RETRY : HOOKD_FAIL;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const char *abbr = sig ? sigabbrev_np(sig) : NULL;
    hookd_say(st->reason, sizeof st->reason, "killed by signal %d (SIG%s)%s%s", sig,
              abbr ? abbr : "?", sep, first);
    return HOOKD_FAIL;
}

static int exec_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    exec_inst *x = instance;
    run r = {.in = {-1, -1}, .out = {-1, -1}, .err = {-1, -1}};
    int64_t start = now_ms(x);
    int64_t deadline = ev->deadline_ms > 0 ? ev->deadline_ms : INT64_MAX;
    int result;
    pid_t pid;
    if (start >= deadline) {
        hookd_say(st->reason, sizeof st->reason, "timed out after 0 ms (deadline passed)");
        result = HOOKD_RETRY;
    } else if (run_prepare(x, ev, &r) != 0) {
        hookd_say(st->reason, sizeof st->reason, "out of memory");
        result = HOOKD_RETRY;
    } else if ((result = run_start(x, &r, &pid, st)) == HOOKD_OK) {
        char first[160];
        int status = 0;
        int finished = run_wait(x, &r, pid, deadline, &status, first, sizeof first);
        result = judge(finished, status, first, deadline - start, st);
    }
    run_free(&r);
    return result;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "exec",
    .version = "1.0",
    .init = exec_init,
    .deliver = exec_deliver,
    .destroy = exec_destroy,
    .config_keys = exec_keys,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }
