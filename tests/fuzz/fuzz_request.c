/* fuzz_request: raw bytes through the whole receive path, as `hookd run`
 * wires it: server.c (llhttp in strict mode, limits, timeouts) → the real
 * hookd_receive (source, Basic credentials, signature, JSON, event type,
 * dedup key) → hookd_ev → the SQLite spool's group commit → the answer.
 *
 * Set up once, as hookd_daemon_run does (without signals, admin or ctct):
 * a configuration from YAML, its runtime (no plugins and no routes, so no
 * dlopen: accepted events are stored unrouted), a dispatcher with one
 * worker, a spool in a fresh mkdtemp directory under /tmp (sync: normal: no
 * fsync per commit) and one hookd_server on 127.0.0.1 whose handler is
 * hookd_receive, with the receiver's clock fixed to the timestamp of
 * tests/vectors so the stripe and standard-webhooks seeds verify. It is all
 * torn down at exit (so LeakSanitizer sees no leak) and the directory is
 * removed, once the number of events stored is printed (proof that inputs
 * reach the 200 path).
 *
 * Each input is sent over a fresh loopback TCP connection, in one to three
 * writes split at points derived from the input (so headers and bodies also
 * arrive cut in pieces), then the client half-closes and reads until the
 * server closes. An accepted request is answered only once the spool has
 * committed it (HOOKD_ANSWER_LATER; pipelined requests behind it wait in the
 * stash): the loop runs until the server closed the connection and no append
 * is outstanding, so nothing of one input is left for the next. What stays
 * is the spool's own growth (rows on disk, SQLite's bounded page cache). */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stddef.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <llhttp.h>
#include <uv.h>

#include "config/config.h"
#include "deliver/dispatch.h"
#include "base/log.h"
#include "base/metrics.h"
#include "ingest/receive.h"
#include "deliver/runtime.h"
#include "net/server.h"
#include "spool/spool.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define NOW_S INT64_C(1614265330) /* the timestamp of tests/vectors */

/* The spool path and the port are filled in. */
static const char CONFIG[] =
    "server:\n"
    "  listen: [\"127.0.0.1:%d\"]\n"
    "  max_body: 16KiB\n"
    "  max_header: 4KiB\n"
    "  max_connections: 16\n"
    "  timeouts: { header: 10s, body: 10s, idle: 10s }\n"
    "log: { level: error, format: text }\n"
    "spool: { path: \"%s/spool.db\", sync: normal }\n"
    "dispatch: { workers: 1 }\n"
    "sources:\n"
    "  - name: ctct\n"
    "    path: /webhooks/ctct\n"
    "    auth:\n"
    "      basic: { username: partner, password: partner-password }\n"
    "    verify: { scheme: ctct-hmac-sha256, secret: api-secret-key }\n"
    "    event_type: /event_type\n"
    "  - name: github\n"
    "    path: /webhooks/github\n"
    "    verify: { scheme: github, secret: \"It's a Secret to Everybody\" }\n"
    "    event_type: header:X-GitHub-Event\n"
    "  - name: stripe\n"
    "    path: /webhooks/stripe\n"
    "    verify: { scheme: stripe, secret: whsec_test_secret, tolerance: 5m }\n"
    "    event_type: /type\n"
    "  - name: stdwh\n"
    "    path: /webhooks/stdwh\n"
    "    verify: { scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }\n"
    "    event_type: /type\n"
    "  - name: open\n"
    "    path: /hooks/open\n"
    "    verify: { scheme: none }\n"
    "    event_type: /type\n"
    "  - name: dedup\n"
    "    path: /hooks/dedup\n"
    "    verify: { scheme: none }\n"
    "    event_type: /type\n"
    "    dedup: { key: \"pointer:/id\", window: 1s }\n";

static uv_loop_t loop;
static hookd_runtime *rt;
static hookd_dispatch *disp;
static hookd_spool *spool;
static hookd_receiver receiver;
static hookd_server *srv;
static struct sockaddr_in addr;
static char spool_dir[] = "/tmp/hookd-fuzz-request-XXXXXX";

/* ---- the handler: hookd_receive, behind what server.c promises ---- */

static int64_t fixed_clock(void) { return NOW_S; }

static int handler(void *ud, const hookd_request *req, hookd_response *resp,
                   hookd_pending *later)
{
    if (req->nheaders > HOOKD_MAX_HEADERS || !req->body || req->body[req->body_len] != '\0')
        abort();
    for (size_t i = 0; i < req->nheaders; i++) {
        for (const char *p = req->names[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort(); /* names are lower case */
        (void)strlen(req->values[i]);
    }
    if (req->body_len > rt->cfg->max_body)
        abort();
    return hookd_receive(ud, req, resp, later);
}

/* ---- the client ---- */

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_shutdown_t shut;
    int connected;
    int done;          /* read EOF or an error, and closed */
    int closing;
    size_t got;
    char buf[4096];
} client;

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    c->done = 1;
}

static void client_close(client *c)
{
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    }
}

static void on_connect(uv_connect_t *r, int status)
{
    client *c = r->data;
    if (status < 0) {
        fprintf(stderr, "fuzz_request: connect: %s\n", uv_strerror(status));
        abort();
    }
    c->connected = 1;
}

static void on_calloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client *c = h->data;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_cread(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    client *c = st->data;
    if (n < 0) {
        client_close(c);
        return;
    }
    c->got += (size_t)n;
}

static void on_shutdown(uv_shutdown_t *r, int status)
{
    (void)r;
    (void)status;
}

/* Writes everything now (loopback with room for 64 KiB: no partial writes
 * in practice; a slow remainder is written blocking-style via the loop). */
static void send_all(client *c, const char *p, size_t n)
{
    while (n > 0 && !c->closing) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (w == UV_EAGAIN) {
            uv_run(&loop, UV_RUN_NOWAIT);
            continue;
        }
        if (w < 0)
            return; /* the server closed on us: fine */
        p += w;
        n -= (size_t)w;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

/* Everything in spool_dir: the database, and its -wal and -shm files. */
static void remove_spool_dir(void)
{
    DIR *d = opendir(spool_dir);
    if (d) {
        struct dirent *e;
        char path[sizeof spool_dir + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", spool_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(spool_dir);
}

static void count_stored(void)
{
    char path[sizeof spool_dir + 16];
    snprintf(path, sizeof path, "%s/spool.db", spool_dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        fprintf(stderr, "fuzz_request: %lld events stored in the spool\n",
                (long long)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void on_server_stopped(void *arg)
{
    (void)arg;
    hookd_spool_detach(spool); /* every request is answered: no append is left */
}

/* At exit, in hookd_daemon_run's order. */
static void teardown(void)
{
    hookd_server_stop(srv, on_server_stopped, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    hookd_dispatch_stop(disp, 5000);
    hookd_spool_close(spool);
    hookd_server_free(srv);
    hookd_dispatch_free(disp);
    hookd_metrics_free();
    hookd_runtime_unref(rt);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "fuzz_request: a loop handle is still open at exit\n");
    count_stored();
    remove_spool_dir();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0);
    signal(SIGPIPE, SIG_IGN); /* writes to a peer that closed: EPIPE, not death */
    if (!mkdtemp(spool_dir)) {
        perror("fuzz_request: mkdtemp");
        abort();
    }
    uv_loop_init(&loop);
    char text[sizeof CONFIG + sizeof spool_dir + 16], err[1024];
    for (int tries = 0; tries < 20 && !srv; tries++) {
        int port = free_port();
        snprintf(text, sizeof text, CONFIG, port, spool_dir);
        hookd_config *cfg = hookd_config_parse("fuzz.yaml", text, strlen(text), err, sizeof err);
        if (!cfg || !(rt = hookd_runtime_build(cfg, err, sizeof err))) {
            fprintf(stderr, "fuzz_request: config: %s\n", err);
            remove_spool_dir();
            abort();
        }
        srv = hookd_server_new(&loop, rt->cfg, handler, &receiver, err, sizeof err);
        if (!srv) {
            hookd_runtime_free(rt);
            rt = NULL;
            continue;
        }
        uv_ip4_addr("127.0.0.1", port, &addr);
    }
    if (!srv) {
        fprintf(stderr, "fuzz_request: server: %s\n", err);
        remove_spool_dir();
        abort();
    }
    hookd_config_metrics(rt->cfg, 0);
    if (!(disp = hookd_dispatch_new(rt->cfg->workers)) ||
        !(spool = hookd_spool_open(&loop, rt, disp, err, sizeof err))) {
        fprintf(stderr, "fuzz_request: %s\n", disp ? err : "cannot start the dispatcher");
        remove_spool_dir();
        abort();
    }
    receiver = (hookd_receiver){.rt = rt, .dispatch = disp, .spool = spool,
                                .queue_max = rt->cfg->queue_max, .clock_s = fixed_clock};
    atexit(teardown);
    return 0;
}

static uint32_t fnv(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    client *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c->conn.data = c->shut.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
        abort();
    while (!c->connected)
        uv_run(&loop, UV_RUN_ONCE);
    /* The server accepts and starts reading before the first byte. */
    while (hookd_server_connections(srv) == 0)
        uv_run(&loop, UV_RUN_ONCE);
    uv_read_start((uv_stream_t *)&c->tcp, on_calloc, on_cread);

    /* One to three writes, cut where the input's hash says. */
    uint32_t h = fnv(data, size);
    size_t cuts[3] = {0, 0, size};
    int ncut = size > 2 ? (int)(h % 3) : 0;
    if (ncut >= 1)
        cuts[0] = (h >> 2) % size;
    if (ncut >= 2)
        cuts[1] = (h >> 12) % size;
    if (cuts[0] > cuts[1] && ncut >= 2) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    if (ncut < 2)
        cuts[1] = cuts[0];
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        if (cuts[i] > at) {
            send_all(c, (const char *)data + at, cuts[i] - at);
            at = cuts[i];
        }
    }
    if (!c->closing)
        uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown);
    /* Until the server has closed the connection and no append waits for the
     * spool (its answer is written when the commit comes back). */
    while (!c->done || hookd_server_connections(srv) > 0 || hookd_spool_waiting(spool) > 0)
        uv_run(&loop, UV_RUN_ONCE);
    free(c);
    return 0;
}
