/* fuzz_template: the input, up to its first NUL, is a template: compiled,
 * then rendered with every escape against a fixed event (headers, a JSON
 * body, an enrichment) and against an event whose body is the rest of the
 * input when that is JSON. The rest is also given to hookd_ctct_account_id
 * (as a URL) and hookd_json_pointer (as a pointer, after a second NUL). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/event.h"
#include "base/log.h"
#include "deliver/template.h"
#include "base/clock.h"
#include "ctct/ctct.h"
#include "base/json_pointer.h"

#define FUZZ_MAX_INPUT (16 * 1024)

static const char BODY[] =
    "{\"url\":\"https://api.constantcontact.com/v2/partner/accounts/abc-123_X/plan\","
    "\"event_type\":\"tier.increase\",\"n\":42,\"f\":1.5,\"t\":true,\"z\":null,"
    "\"a\":{\"b\":[10,{\"c\":\"deep\"}]},\"o\":{\"k\":\"v\",\"m\":[1,2]},"
    "\"s/l\":\"slash\",\"t~l\":\"tilde\",\"q\":\"say \\\"hi\\\"\\n\\\\ \\u0001 \\u00e9\","
    "\"\":\"empty key\",\"u\":\"\\u00e9\\u4e2d\\ud83d\\ude00%&=?/#+ \"}";
static const char *const HNAMES[] = {"content-type", "x-evil", "user-agent", "x-ctct-hmac-sha256"};
static const char *const HVALUES[] = {"application/json", "a\r\nX-Evil: 1", "ua/1.0 \xc3\xa9",
                                      "VNfTwVDbHBoPqEYqDdM61OqxJdVznRzT4h21+BuwgTg="};

static hookd_ev *fixed;

static hookd_ev *make_event(const char *body, size_t len, json_t *json, int enrich)
{
    hookd_ev *ev = hookd_ev_new("ctct", "tier.increase", INT64_C(1764158400123), body, len,
                                json, HNAMES, HVALUES, sizeof HNAMES / sizeof HNAMES[0]);
    if (!ev)
        abort();
    ev->pub.attempt = 3;
    if (enrich) {
        json_error_t je;
        json_t *e = json_loads(
            "{\"ctct\":{\"account_id\":\"from-enrich\",\"plan\":{\"plan_type\":\"GOLD\","
            "\"billing_status\":\"Open\",\"billing_day_of_month\":29,"
            "\"current_tiers\":[{\"tier\":1,\"usage_type\":\"CONTACTS\"}],"
            "\"name\":\"a\\\"b<c>&d\\u0000e\"}}}",
            JSON_ALLOW_NUL, &je);
        if (!e)
            abort();
        hookd_ev_set_enrichment(ev, e);
    }
    return ev;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0);
    json_error_t je;
    json_t *j = json_loads(BODY, 0, &je);
    if (!j)
        abort();
    fixed = make_event(BODY, strlen(BODY), j, 1);
    return 0;
}

static void render_all(const hookd_template *t, const hookd_ev *ev)
{
    for (int esc = -1; esc <= HOOKD_ESC_HEADER + 1; esc++) {
        char *out = hookd_template_render(t, &ev->pub, esc);
        if (!out)
            abort(); /* NULL on no memory only */
        size_t n = strlen(out);
        if (n > HOOKD_TEMPLATE_MAX_OUT)
            abort();
        if (esc == HOOKD_ESC_HEADER && (strchr(out, '\r') || strchr(out, '\n'))) {
            /* literal text may hold CR/LF; only values are escaped */
        }
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t tlen = strlen(buf);
    const char *rest = tlen < size ? buf + tlen + 1 : buf + size;
    size_t rest_len = (size_t)(buf + size - rest);

    char err[256];
    err[0] = '\0';
    hookd_template *t = hookd_template_compile(buf, err, sizeof err);
    json_error_t je;
    json_t *j = json_loadb(rest, rest_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    hookd_ev *other = j ? make_event(rest, rest_len, j, rest_len & 1) : NULL;
    if (t) {
        render_all(t, fixed);
        if (other)
            render_all(t, other);
        hookd_template_free(t);
    } else if (!memchr(err, '\0', sizeof err) || !err[0]) {
        abort(); /* a refusal says why */
    }

    /* The rest up to its NUL as a URL, the part after as a pointer. */
    char id[HOOKD_CTCT_ID_MAX + 1];
    size_t ulen = strlen(rest);
    if (hookd_ctct_account_id(rest, id, sizeof id) == 0 && strlen(id) > HOOKD_CTCT_ID_MAX)
        abort();
    (void)hookd_ctct_account_id(rest, id, 5); /* a small buffer */
    (void)hookd_ctct_account_id(buf, id, sizeof id);
    const char *ptr = ulen < rest_len ? rest + ulen + 1 : rest;
    (void)hookd_json_pointer(fixed->json, ptr);
    (void)hookd_json_pointer(fixed->json, buf);
    if (other) {
        (void)hookd_json_pointer(other->json, ptr);
        json_t *ej = hookd_event_json(&other->pub);
        json_decref(ej);
        hookd_ev_unref(other);
    }
    json_t *ej = hookd_event_json(&fixed->pub);
    if (!ej)
        abort();
    json_decref(ej);
    free(buf);
    return 0;
}
