/* Unit tests for core/ingest/receive.c: hookd_receive given requests built
 * by hand (no socket), over a real runtime, dispatcher and spool. Each
 * refusal with its status, headers and the check named in its body; an
 * accepted request answered 200 once committed, and found in the spool.
 * hookd_server_answer is linked to a stand-in (-Wl,--wrap, in
 * tests/CMakeLists.txt) that keeps the late answer. */
#include <llhttp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/log.h"
#include "ingest/receive.h"

#include "spool_test.h"

#define SECRET "It's a Secret to Everybody"
#define NOW_S INT64_C(1700000000)

static char dir[64], db[96];
static test_stack st;
static hookd_receiver rc;

/* ---- the stand-in for the server's late answer ---- */

typedef struct late {
    int answered;
    hookd_response resp;
} late;

void __wrap_hookd_server_answer(hookd_pending *later, const hookd_response *resp);
void __wrap_hookd_server_answer(hookd_pending *later, const hookd_response *resp)
{
    late *l = (late *)later;
    l->answered++;
    l->resp = *resp;
}

/* ---- requests ---- */

typedef struct req {
    hookd_request r;
    char sig[80];
} req;

/* A POST to `path` with `body`; headers as name, value pairs (NULL ends). */
static void make(req *q, const char *path, const char *body, ...)
{
    memset(q, 0, sizeof *q);
    q->r.method = HTTP_POST;
    q->r.path = path;
    q->r.path_len = strcspn(path, "?");
    q->r.body = body;
    q->r.body_len = strlen(body);
    q->r.peer = "192.0.2.1:4000";
    va_list ap;
    va_start(ap, body);
    for (const char *n; (n = va_arg(ap, const char *));) {
        q->r.names[q->r.nheaders] = n;
        q->r.values[q->r.nheaders++] = va_arg(ap, const char *);
    }
    va_end(ap);
}

/* Adds a valid (or, with a wrong secret, invalid) GitHub signature. */
static void sign(req *q, const char *secret)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)q->r.body,
         q->r.body_len, mac, &n);
    assert_int_equal(n, 32);
    int at = snprintf(q->sig, sizeof q->sig, "sha256=");
    for (unsigned int i = 0; i < n; i++)
        at += snprintf(q->sig + at, sizeof q->sig - (size_t)at, "%02x", mac[i]);
    q->r.names[q->r.nheaders] = "x-hub-signature-256";
    q->r.values[q->r.nheaders++] = q->sig;
}

/* A refusal: answered at once with `status` and exactly `body` (or, when
 * `body` ends in '*', a body starting with what is before it). */
static hookd_response refused(req *q, int status, const char *body)
{
    hookd_response resp = {0};
    late l = {0};
    assert_int_equal(hookd_receive(&rc, &q->r, &resp, (hookd_pending *)&l), 0);
    assert_int_equal(l.answered, 0);
    assert_int_equal(resp.status, status);
    size_t n = strlen(body);
    if (n && body[n - 1] == '*') {
        if (strncmp(resp.body, body, n - 1) != 0)
            fail_msg("body %s does not start with %.*s", resp.body, (int)n - 1, body);
    } else {
        assert_int_equal(resp.body_len, n);
        assert_string_equal(resp.body, body);
    }
    assert_int_equal(resp.body_len, strlen(resp.body));
    assert_int_equal(hookd_spool_waiting(st.sp), 0);
    return resp;
}

/* Accepted: answered later, once the spool committed. */
static hookd_response accepted(req *q)
{
    hookd_response resp = {0};
    late l = {0};
    assert_int_equal(hookd_receive(&rc, &q->r, &resp, (hookd_pending *)&l), HOOKD_ANSWER_LATER);
    assert_int_equal(hookd_spool_waiting(st.sp), 1);
    while (!l.answered)
        uv_run(&st.loop, UV_RUN_ONCE);
    assert_int_equal(l.answered, 1);
    assert_int_equal(l.resp.status, 200);
    assert_int_equal(l.resp.source, 1);
    return l.resp;
}

#define AUTH "authorization", "Basic cGFydG5lcjpwdw==" /* partner:pw */
#define BODY "{\"action\":\"opened\",\"n\":1}"

static void test_unknown_path(void **state)
{
    (void)state;
    req q;
    make(&q, "/hooks/nope", BODY, AUTH, NULL);
    hookd_response r = refused(&q, 404, "{\"error\":\"no source at this path\"}");
    assert_int_equal(r.source, 0);
    /* the path is matched whole, before any query */
    make(&q, "/hooks/gh/x", BODY, AUTH, NULL);
    refused(&q, 404, "{\"error\":\"no source at this path\"}");
}

static void test_method(void **state)
{
    (void)state;
    req q;
    make(&q, "/hooks/gh", BODY, AUTH, NULL);
    q.r.method = HTTP_PUT;
    hookd_response r = refused(&q, 405, "{\"error\":\"only POST is accepted\"}");
    assert_string_equal(r.headers, "Allow: POST\r\n");
}

static void test_basic(void **state)
{
    (void)state;
    static const char want[] = "{\"error\":\"basic credentials missing or wrong\"}";
    req q;
    make(&q, "/hooks/gh", BODY, "authorization", "Basic cGFydG5lcjp3cm9uZw==", /* partner:wrong */
         "x-github-event", "push", NULL);
    sign(&q, SECRET);
    hookd_response r = refused(&q, 401, want);
    assert_string_equal(r.headers, "WWW-Authenticate: Basic realm=\"hookd\"\r\n");
    assert_int_equal(r.source, 1);
    make(&q, "/hooks/gh", BODY, "x-github-event", "push", NULL); /* none */
    sign(&q, SECRET);
    refused(&q, 401, want);
    make(&q, "/hooks/gh", BODY, "authorization", "Bearer cGFydG5lcjpwdw==", NULL);
    sign(&q, SECRET);
    refused(&q, 401, want);
}

static void test_signature(void **state)
{
    (void)state;
    req q;
    make(&q, "/hooks/gh", BODY, AUTH, "x-github-event", "push", NULL);
    sign(&q, "not the secret");
    refused(&q, 401, "{\"error\":\"signature check failed: signature mismatch\"}");
    make(&q, "/hooks/gh", BODY, AUTH, "x-github-event", "push", NULL);
    refused(&q, 401,
            "{\"error\":\"signature check failed: X-Hub-Signature-256 header missing\"}");
    make(&q, "/hooks/gh", BODY, AUTH, "x-hub-signature-256", "sha1=00", NULL);
    refused(&q, 401,
            "{\"error\":\"signature check failed: X-Hub-Signature-256 header malformed\"}");
    /* signed, then changed: the raw bytes are what is checked */
    make(&q, "/hooks/gh", BODY, AUTH, "x-github-event", "push", NULL);
    sign(&q, SECRET);
    q.r.body = "{\"action\":\"opened\",\"n\":2}";
    refused(&q, 401, "{\"error\":\"signature check failed: signature mismatch\"}");
    assert_int_equal(db_int(db, "SELECT count(*) FROM events"), 0);
}

static void test_body_and_type(void **state)
{
    (void)state;
    req q;
    make(&q, "/hooks/gh", "{\"a\":1,\"a\":2}", AUTH, "x-github-event", "push", NULL);
    sign(&q, SECRET);
    /* (the parser's words after the check's) */
    refused(&q, 400, "{\"error\":\"body is not JSON: duplicate object key*");
    make(&q, "/hooks/gh", BODY, AUTH, NULL);
    sign(&q, SECRET);
    refused(&q, 400, "{\"error\":\"no event type at header X-GitHub-Event\"}");
    make(&q, "/hooks/gh", BODY, AUTH, "x-github-event", "..", NULL);
    sign(&q, SECRET);
    refused(&q, 400, "{\"error\":\"event type is only dots at header X-GitHub-Event\"}");
}

static void test_accepted(void **state)
{
    (void)state;
    req q;
    make(&q, "/hooks/gh?x=1", BODY, AUTH, "x-github-event", "push", "x-github-delivery", "d-1",
         "cookie", "c=1", NULL);
    sign(&q, SECRET);
    hookd_response r = accepted(&q);
    /* {"id":"<26 characters>"} */
    assert_int_equal(r.body_len, 7 + HOOKD_ID_LEN + 2);
    assert_memory_equal(r.body, "{\"id\":\"", 7);
    assert_string_equal(r.body + 7 + HOOKD_ID_LEN, "\"}");
    char id[HOOKD_ID_LEN + 1];
    memcpy(id, r.body + 7, HOOKD_ID_LEN);
    id[HOOKD_ID_LEN] = '\0';

    /* stored as received, without the credentials */
    char buf[512];
    size_t n;
    assert_string_equal(db_text(db, buf, sizeof buf, NULL,
                                "SELECT source || ' ' || type FROM events WHERE id = '%s'", id),
                        "gh push");
    assert_string_equal(db_text(db, buf, sizeof buf, NULL,
                                "SELECT body FROM events WHERE id = '%s'", id),
                        BODY);
    db_text(db, buf, sizeof buf, &n, "SELECT headers FROM events WHERE id = '%s'", id);
    static const char hs[] = "x-github-event\0push\0x-github-delivery\0d-1\0"
                             "x-hub-signature-256";
    assert_true(n > sizeof hs);
    assert_memory_equal(buf, hs, sizeof hs);
    assert_null(memmem(buf, n, "authorization", 13));
    assert_null(memmem(buf, n, "cookie", 6));
    /* routed: one delivery to audit (push matches) */
    assert_int_equal(db_int(db, "SELECT count(*) FROM deliveries d JOIN events e ON"
                                " e.seq = d.event WHERE e.id = '%s' AND d.plugin = 'audit'",
                            id),
                     1);

    /* the same delivery id again: a duplicate, answered with the first id */
    r = accepted(&q);
    char want[64];
    snprintf(want, sizeof want, "{\"id\":\"%s\",\"duplicate\":true}", id);
    assert_string_equal(r.body, want);
    assert_int_equal(db_int(db, "SELECT count(*) FROM events"), 1);

    /* another type: no route, stored all the same */
    make(&q, "/hooks/gh", BODY, AUTH, "x-github-event", "issues", "x-github-delivery", "d-2",
         NULL);
    sign(&q, SECRET);
    accepted(&q);
    assert_int_equal(db_int(db, "SELECT count(*) FROM events"), 2);
    assert_int_equal(db_int(db, "SELECT count(*) FROM deliveries"), 1);
}

static void test_queue_full(void **state)
{
    (void)state;
    req q;
    make(&q, "/hooks/gh", BODY, AUTH, "x-github-event", "push", NULL);
    sign(&q, SECRET);
    rc.queue_max = 0;
    hookd_response r = refused(&q, 503, "{\"error\":\"too many events waiting\"}");
    assert_string_equal(r.headers, "Retry-After: 1\r\n");
}

static int64_t fixed_clock(void) { return NOW_S; }

static int setup(void **state)
{
    (void)state;
    tmpdir_make(dir, "receive");
    snprintf(db, sizeof db, "%s/spool.db", dir);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugin_dir: \"%s\"\n"
             "spool: { path: \"%s\", sync: normal }\n"
             "sources:\n"
             "  - name: gh\n"
             "    path: /hooks/gh\n"
             "    auth: { basic: { username: partner, password: pw } }\n"
             "    verify: { scheme: github, secret: \"" SECRET "\" }\n"
             "plugins:\n"
             "  - { name: audit, use: file, config: { path: \"%s/audit.jsonl\" } }\n"
             "routes:\n"
             "  - { match: push, to: [audit] }\n",
             plugin_dir(), db, dir);
    stack_open(&st, yaml);
    rc = (hookd_receiver){.rt = st.rt, .dispatch = st.d, .spool = st.sp, .queue_max = 100,
                          .clock_s = fixed_clock};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stack_close(&st);
    tmpdir_remove(dir);
    return 0;
}

int main(void)
{
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0); /* quiet */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_and_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
