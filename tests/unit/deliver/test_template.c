/* Unit tests for core/template.c: names, escapes, pointers, errors, bounds,
 * Constant Contact account ids, event JSON and time formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deliver/template.h"
#include "base/clock.h"
#include "ctct/ctct.h"
#include "base/json_pointer.h"

static const char *BODY_V2 =
    "{\"url\":\"https://api.constantcontact.com/v2/partner/accounts/abc-123_X/plan\","
    "\"event_type\":\"tier.increase\",\"n\":42,\"f\":1.5,\"t\":true,\"z\":null,"
    "\"a\":{\"b\":[10,{\"c\":\"deep\"}]},\"o\":{\"k\":\"v\",\"m\":[1,2]},"
    "\"s/l\":\"slash\",\"t~l\":\"tilde\",\"q\":\"say \\\"hi\\\"\\n\\\\ \\u0001 \\u00e9\"}";

static const hookd_header HEADERS[] = {
    {"content-type", "application/json"},
    {"x-evil", "a\r\nX-Evil: 1"},
    {"user-agent", "ua/1.0"},
};

typedef struct {
    hookd_event ev;
    json_t *json;
    json_t *enrichment;
} fixture;

static void fixture_init(fixture *f, const char *body)
{
    memset(f, 0, sizeof *f);
    json_error_t je;
    f->json = json_loads(body, 0, &je);
    assert_non_null(f->json);
    f->enrichment = json_loads(
        "{\"ctct\":{\"account_id\":\"from-enrich\",\"plan\":{\"plan_type\":\"GOLD\","
        "\"billing_status\":\"Open\",\"billing_day_of_month\":29,"
        "\"current_tiers\":[{\"tier\":1,\"usage_type\":\"CONTACTS\"}]}}}",
        0, &je);
    assert_non_null(f->enrichment);
    f->ev.id = "01JDQ8X9Y7Z6W5V4T3S2R1Q0P9";
    f->ev.source = "ctct";
    f->ev.type = "tier.increase";
    f->ev.received_at_ms = 1764158400123LL;
    f->ev.attempt = 3;
    f->ev.body = body;
    f->ev.body_len = strlen(body);
    f->ev.json = f->json;
    f->ev.headers = HEADERS;
    f->ev.nheaders = sizeof HEADERS / sizeof HEADERS[0];
    f->ev.enrichment = f->enrichment;
}

static void fixture_fini(fixture *f)
{
    json_decref(f->json);
    json_decref(f->enrichment);
}

/* Compiles src (which must succeed), renders it, frees the template. */
static char *render(const char *src, const hookd_event *ev, int esc)
{
    char err[256] = "untouched";
    hookd_template *t = hookd_template_compile(src, err, sizeof err);
    if (!t)
        fail_msg("compile \"%s\": %s", src, err);
    char *out = hookd_template_render(t, ev, esc);
    assert_non_null(out);
    hookd_template_free(t);
    return out;
}

static void expect(const char *src, const hookd_event *ev, int esc, const char *want)
{
    char *out = render(src, ev, esc);
    if (strcmp(out, want) != 0)
        fail_msg("template \"%s\" (esc %d): got \"%s\", want \"%s\"", src, esc, out, want);
    free(out);
}

static void expect_error(const char *src, const char *want)
{
    char err[256] = "";
    hookd_template *t = hookd_template_compile(src, err, sizeof err);
    if (t) {
        hookd_template_free(t);
        fail_msg("template \"%s\" compiled; want error \"%s\"", src, want);
    }
    assert_string_equal(err, want);
}

static void test_simple_names(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, BODY_V2);
    expect("{{type}}", &f.ev, HOOKD_ESC_PLAIN, "tier.increase");
    expect("{{id}}", &f.ev, HOOKD_ESC_PLAIN, "01JDQ8X9Y7Z6W5V4T3S2R1Q0P9");
    expect("{{source}}", &f.ev, HOOKD_ESC_PLAIN, "ctct");
    expect("{{received_at}}", &f.ev, HOOKD_ESC_PLAIN, "2025-11-26T12:00:00.123Z");
    expect("{{attempt}}", &f.ev, HOOKD_ESC_PLAIN, "3");
    expect("{{body}}", &f.ev, HOOKD_ESC_PLAIN, BODY_V2);
    expect("[{{ type }}|{{\tsource\t}}|{{attempt  }}]", &f.ev, HOOKD_ESC_PLAIN,
           "[tier.increase|ctct|3]");
    expect("no placeholders here", &f.ev, HOOKD_ESC_PLAIN, "no placeholders here");
    expect("", &f.ev, HOOKD_ESC_PLAIN, "");
    expect("a } b }} c {", &f.ev, HOOKD_ESC_PLAIN, "a } b }} c {");
    expect("{{{type}}}", &f.ev, HOOKD_ESC_PLAIN, "{tier.increase}");
    expect("{\"k\":{{{json./n}}}}", &f.ev, HOOKD_ESC_PLAIN, "{\"k\":{42}}");
    expect("{{type}}{{attempt}}", &f.ev, HOOKD_ESC_PLAIN, "tier.increase3");
    fixture_fini(&f);
}

static void test_json_pointer(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, BODY_V2);
    expect("{{json./event_type}}", &f.ev, HOOKD_ESC_PLAIN, "tier.increase");
    expect("{{json./n}}", &f.ev, HOOKD_ESC_PLAIN, "42");
    expect("{{json./f}}", &f.ev, HOOKD_ESC_PLAIN, "1.5");
    expect("{{json./t}}", &f.ev, HOOKD_ESC_PLAIN, "true");
    expect("{{json./z}}", &f.ev, HOOKD_ESC_PLAIN, "null");
    expect("{{json./a/b/0}}", &f.ev, HOOKD_ESC_PLAIN, "10");
    expect("{{json./a/b/1/c}}", &f.ev, HOOKD_ESC_PLAIN, "deep");
    expect("{{json./a/b/1}}", &f.ev, HOOKD_ESC_PLAIN, "{\"c\":\"deep\"}");
    expect("{{json./o}}", &f.ev, HOOKD_ESC_PLAIN, "{\"k\":\"v\",\"m\":[1,2]}");
    expect("{{json./o/m}}", &f.ev, HOOKD_ESC_PLAIN, "[1,2]");
    expect("{{json./s~1l}}", &f.ev, HOOKD_ESC_PLAIN, "slash");
    expect("{{json./t~0l}}", &f.ev, HOOKD_ESC_PLAIN, "tilde");
    /* Missing values render empty. */
    expect("<{{json./nope}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./a/b/2}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./a/b/-}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./a/b/01}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./a/b/x}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./n/x}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./a/b/99999999999999999999999}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    expect("<{{json./s/l}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    fixture_fini(&f);

    /* The empty key and a top-level array. */
    fixture_init(&f, "[\"zero\",{\"\":\"empty key\"}]");
    expect("{{json./0}}|{{json./1/}}", &f.ev, HOOKD_ESC_PLAIN, "zero|empty key");
    fixture_fini(&f);
}

static void test_headers(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, BODY_V2);
    expect("{{header.Content-Type}}", &f.ev, HOOKD_ESC_PLAIN, "application/json");
    expect("{{header.USER-AGENT}}", &f.ev, HOOKD_ESC_PLAIN, "ua/1.0");
    expect("<{{header.X-Missing}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    assert_string_equal(hookd_event_header(&f.ev, "CONTENT-type"), "application/json");
    assert_null(hookd_event_header(&f.ev, "content"));
    assert_null(hookd_event_header(&f.ev, NULL));
    assert_null(hookd_event_header(NULL, "content-type"));
    fixture_fini(&f);
}

static void test_ctct_names(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, BODY_V2);
    expect("{{ctct.account_id}}", &f.ev, HOOKD_ESC_PLAIN, "abc-123_X");
    expect("{{ctct.plan.plan_type}}/{{ctct.plan.billing_status}}", &f.ev,
           HOOKD_ESC_PLAIN, "GOLD/Open");
    expect("{{ctct.plan.billing_day_of_month}}", &f.ev, HOOKD_ESC_PLAIN, "29");
    expect("{{ctct.plan.current_tiers}}", &f.ev, HOOKD_ESC_PLAIN,
           "[{\"tier\":1,\"usage_type\":\"CONTACTS\"}]");
    expect("<{{ctct.plan.nope}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    f.ev.enrichment = NULL;
    expect("<{{ctct.plan.plan_type}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    fixture_fini(&f);

    fixture_init(&f, "{\"url\":\"https://api.cc.email/v3/partner/accounts/a07e1ikxyomy/plan\","
                     "\"api_key\":\"k\",\"event_type\":\"account.cancel\"}");
    expect("{{ctct.account_id}}:{{json./event_type}}", &f.ev, HOOKD_ESC_PLAIN,
           "a07e1ikxyomy:account.cancel");
    fixture_fini(&f);

    /* A bad url: the enrichment's id if any, else empty. */
    fixture_init(&f, "{\"url\":\"https://example.com/somewhere/else\"}");
    expect("{{ctct.account_id}}", &f.ev, HOOKD_ESC_PLAIN, "from-enrich");
    f.ev.enrichment = NULL;
    expect("<{{ctct.account_id}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    fixture_fini(&f);

    fixture_init(&f, "{\"url\":42}");
    f.ev.enrichment = NULL;
    expect("<{{ctct.account_id}}>", &f.ev, HOOKD_ESC_PLAIN, "<>");
    fixture_fini(&f);
}

static void test_missing_values(void **state)
{
    (void)state;
    hookd_event ev;
    memset(&ev, 0, sizeof ev);
    expect("<{{type}}|{{id}}|{{source}}|{{body}}|{{json./a}}|{{header.X}}|"
           "{{ctct.account_id}}|{{ctct.plan.plan_type}}>",
           &ev, HOOKD_ESC_JSON, "<|||||||>");
    expect("{{attempt}} {{received_at}}", &ev, HOOKD_ESC_PLAIN,
           "0 1970-01-01T00:00:00.000Z");
    /* No event at all: literal text only. */
    expect("a{{type}}b", NULL, HOOKD_ESC_PLAIN, "ab");
    assert_null(hookd_template_render(NULL, &ev, HOOKD_ESC_PLAIN));
}

static void test_escape_json(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, BODY_V2);
    /* The value is: say "hi"<LF>\ <U+0001> é */
    char *out = render("{\"text\":\"{{json./q}}\"}", &f.ev, HOOKD_ESC_JSON);
    assert_string_equal(out, "{\"text\":\"say \\\"hi\\\"\\u000a\\\\ \\u0001 \xc3\xa9\"}");
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "say \"hi\"\n\\ \x01 \xc3\xa9");
    json_decref(j);
    free(out);

    /* Objects are dumped then escaped; the literal text is never escaped. */
    expect("\"{{json./o}}\"\n", &f.ev, HOOKD_ESC_JSON,
           "\"{\\\"k\\\":\\\"v\\\",\\\"m\\\":[1,2]}\"\n");
    expect("{{header.X-Evil}}", &f.ev, HOOKD_ESC_JSON, "a\\u000d\\u000aX-Evil: 1");
    fixture_fini(&f);

    /* A raw body with a NUL, DEL and bytes that are not UTF-8. */
    hookd_event ev;
    memset(&ev, 0, sizeof ev);
    static const char raw[] = "a\0b\x7f\xff\xc3(\xed\xa0\x80z";
    ev.body = raw;
    ev.body_len = sizeof raw - 1;
    expect("{{body}}", &ev, HOOKD_ESC_JSON,
           "a\\u0000b\x7f\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffdz");
}

static void test_escape_url(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "{\"v\":\"a b/c?d=e&f#g~h-i.j_k+\xc3\xa9%\"}");
    expect("https://x/?q={{json./v}}&t={{type}}", &f.ev, HOOKD_ESC_URL,
           "https://x/?q=a%20b%2Fc%3Fd%3De%26f%23g~h-i.j_k%2B%C3%A9%25&t=tier.increase");
    expect("{{json./v}}", &f.ev, HOOKD_ESC_PLAIN, "a b/c?d=e&f#g~h-i.j_k+\xc3\xa9%");
    fixture_fini(&f);
    /* A value that would be a dot segment keeps its place in the path. */
    const char *const dots[][2] = {{".", "/e/%2E/d"}, {"..", "/e/%2E%2E/d"},
                                   {"...", "/e/%2E%2E%2E/d"}, {"..a", "/e/..a/d"}};
    for (size_t i = 0; i < 4; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"v\":\"%s\"}", dots[i][0]);
        fixture_init(&f, doc);
        expect("/e/{{json./v}}/d", &f.ev, HOOKD_ESC_URL, dots[i][1]);
        fixture_fini(&f);
    }
}

static void test_escape_header(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "{\"v\":\"x\\r\\nX-Evil: 1\\ty\\u007f\"}");
    char *out = render("X-Type: {{json./v}}\r\n", &f.ev, HOOKD_ESC_HEADER);
    /* Only the literal CRLF at the end remains. */
    assert_string_equal(out, "X-Type: x  X-Evil: 1\ty \r\n");
    assert_ptr_equal(strchr(out, '\r'), out + strlen(out) - 2);
    free(out);
    out = render("{{header.x-evil}}", &f.ev, HOOKD_ESC_HEADER);
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\n'));
    assert_string_equal(out, "a  X-Evil: 1");
    free(out);
    /* The same value unescaped does carry the CR LF. */
    expect("{{header.x-evil}}", &f.ev, HOOKD_ESC_PLAIN, "a\r\nX-Evil: 1");
    /* An unknown escape is taken as plain. */
    expect("{{header.x-evil}}", &f.ev, 99, "a\r\nX-Evil: 1");
    fixture_fini(&f);

    hookd_event ev;
    memset(&ev, 0, sizeof ev);
    static const char raw[] = "a\0\nb";
    ev.body = raw;
    ev.body_len = sizeof raw - 1;
    expect("{{body}}", &ev, HOOKD_ESC_HEADER, "a b");
}

static void test_compile_errors(void **state)
{
    (void)state;
    expect_error("Hello, {{foo}}", "unknown template name \"foo\" at offset 7");
    expect_error("{{ Type }}", "unknown template name \"Type\" at offset 0");
    expect_error("{{json}}", "unknown template name \"json\" at offset 0");
    expect_error("{{ctct.plan}}", "unknown template name \"ctct.plan\" at offset 0");
    expect_error("ab{{type", "unterminated \"{{\" at offset 2");
    expect_error("{{type}} {{type}", "unterminated \"{{\" at offset 9");
    expect_error("x{{}}", "empty template name at offset 1");
    expect_error("x{{   }}", "empty template name at offset 1");
    expect_error("{{json.a}}", "bad JSON pointer \"json.a\" at offset 0");
    expect_error("{{json.}}", "bad JSON pointer \"json.\" at offset 0");
    expect_error("--{{json./a~2}}", "bad JSON pointer \"json./a~2\" at offset 2");
    expect_error("{{json./a~}}", "bad JSON pointer \"json./a~\" at offset 0");
    expect_error("{{header.}}", "bad header name \"header.\" at offset 0");
    expect_error("{{header.a b}}", "bad header name \"header.a b\" at offset 0");
    expect_error("{{header.a:b}}", "bad header name \"header.a:b\" at offset 0");
    expect_error("{{ctct.plan.}}", "bad plan field \"ctct.plan.\" at offset 0");
    expect_error("{{{nope}}}", "unknown template name \"nope\" at offset 1");

    /* err may be NULL, and is optional to read. */
    assert_null(hookd_template_compile("{{nope}}", NULL, 0));
    char small[8];
    assert_null(hookd_template_compile("{{nope}}", small, sizeof small));
    assert_string_equal(small, "unknown");
    assert_null(hookd_template_compile(NULL, small, sizeof small));

    /* On success err is cleared. */
    char err[64] = "stale";
    hookd_template *t = hookd_template_compile("{{type}}", err, sizeof err);
    assert_non_null(t);
    assert_string_equal(err, "");
    hookd_template_free(t);
    hookd_template_free(NULL);
}

static void test_limits(void **state)
{
    (void)state;
    char err[128];
    /* 256 placeholders compile, 257 do not. */
    size_t n = 257 * 8 + 1;
    char *src = malloc(n);
    assert_non_null(src);
    src[0] = '\0';
    for (int i = 0; i < 256; i++)
        strcat(src, "{{id}}.");
    hookd_template *t = hookd_template_compile(src, err, sizeof err);
    assert_non_null(t);
    hookd_template_free(t);
    strcat(src, "{{id}}");
    assert_null(hookd_template_compile(src, err, sizeof err));
    assert_string_equal(err, "too many placeholders (max 256)");
    free(src);

    /* 64 KiB of source compile, one byte more does not. */
    src = malloc(HOOKD_TEMPLATE_MAX_SRC + 2);
    assert_non_null(src);
    memset(src, 'x', HOOKD_TEMPLATE_MAX_SRC);
    src[HOOKD_TEMPLATE_MAX_SRC] = '\0';
    t = hookd_template_compile(src, err, sizeof err);
    assert_non_null(t);
    char *out = hookd_template_render(t, NULL, HOOKD_ESC_PLAIN);
    assert_non_null(out);
    assert_int_equal(strlen(out), HOOKD_TEMPLATE_MAX_SRC);
    free(out);
    hookd_template_free(t);
    src[HOOKD_TEMPLATE_MAX_SRC] = 'x';
    src[HOOKD_TEMPLATE_MAX_SRC + 1] = '\0';
    assert_null(hookd_template_compile(src, err, sizeof err));
    assert_string_equal(err, "template too long (65537 bytes, max 65536)");
    free(src);
}

static void test_output_bound(void **state)
{
    (void)state;
    const size_t max = HOOKD_TEMPLATE_MAX_OUT;
    size_t n = 2 * max;
    char *big = malloc(n + 1);
    assert_non_null(big);
    hookd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.body = big;

    /* Plain ASCII: cut at exactly the bound. */
    memset(big, 'a', n);
    big[n] = '\0';
    ev.body_len = n;
    char *out = render("{{body}}{{body}}", &ev, HOOKD_ESC_PLAIN);
    assert_int_equal(strlen(out), max);
    free(out);

    /* Two-byte characters after one literal byte: never half a character. */
    for (size_t i = 0; i + 1 < n; i += 2)
        big[i] = '\xc3', big[i + 1] = '\xa9';
    out = render("x{{body}}", &ev, HOOKD_ESC_PLAIN);
    assert_int_equal(strlen(out), max - 1);
    assert_int_equal((unsigned char)out[max - 2], 0xa9);
    free(out);

    /* URL escapes: whole "%XX" units only. */
    out = render("x{{body}}", &ev, HOOKD_ESC_URL);
    size_t len = strlen(out);
    assert_true(len <= max && len > max - 3);
    assert_int_equal((len - 1) % 3, 0);
    assert_int_equal(out[len - 3], '%');
    free(out);

    /* JSON escapes: whole "\u0001" units only. */
    memset(big, '\x01', n);
    out = render("xy{{body}}", &ev, HOOKD_ESC_JSON);
    len = strlen(out);
    assert_true(len <= max && len > max - 6);
    assert_int_equal((len - 2) % 6, 0);
    assert_memory_equal(out + len - 6, "\\u0001", 6);
    free(out);
    free(big);
}

static void test_account_id(void **state)
{
    (void)state;
    char id[HOOKD_CTCT_ID_MAX + 1];
    assert_int_equal(hookd_ctct_account_id(
        "https://api.constantcontact.com/v2/partner/accounts/1234567890/plan", id, sizeof id), 0);
    assert_string_equal(id, "1234567890");
    assert_int_equal(hookd_ctct_account_id(
        "https://api.cc.email/v3/partner/accounts/a07e1ikxyomy/plan", id, sizeof id), 0);
    assert_string_equal(id, "a07e1ikxyomy");
    assert_int_equal(hookd_ctct_account_id(
        "https://api.cc.email/v3/partner/accounts/Ab_-9", id, sizeof id), 0);
    assert_string_equal(id, "Ab_-9");
    assert_int_equal(hookd_ctct_account_id(
        "https://api.cc.email/v3/partner/accounts/xyz/plan?api_key=k#frag", id, sizeof id), 0);
    assert_string_equal(id, "xyz");

    /* 64 characters fit, 65 do not. */
    char url[200];
    snprintf(url, sizeof url, "https://h/v2/partner/accounts/%064d/plan", 7);
    assert_int_equal(hookd_ctct_account_id(url, id, sizeof id), 0);
    assert_int_equal(strlen(id), 64);
    snprintf(url, sizeof url, "https://h/v2/partner/accounts/%065d/plan", 7);
    assert_int_equal(hookd_ctct_account_id(url, id, sizeof id), -1);

    strcpy(id, "untouched");
    static const char *bad[] = {
        "https://example.com/",
        "https://api.cc.email/v3/partner/accounts/",
        "https://api.cc.email/v3/partner/accounts//plan",
        "https://api.cc.email/v3/partner/accounts/a.b/plan",
        "https://api.cc.email/v3/partner/accounts/a%20b/plan",
        "https://api.cc.email/v3/partner/accounts/abc/plan/extra",
        "https://api.cc.email/v3/partner/accounts/abc/plans",
        "https://api.cc.email/v3/partner/accounts/abc/",
        "https://h/x?next=/accounts/abc",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hookd_ctct_account_id(bad[i], id, sizeof id) != -1)
            fail_msg("accepted \"%s\" as \"%s\"", bad[i], id);
    assert_string_equal(id, "untouched");
    assert_int_equal(hookd_ctct_account_id(NULL, id, sizeof id), -1);
    /* Too small a buffer. */
    char tiny[4];
    assert_int_equal(hookd_ctct_account_id("https://h/accounts/abcd", tiny, sizeof tiny), -1);
    assert_int_equal(hookd_ctct_account_id("https://h/accounts/abc", tiny, sizeof tiny), 0);
    assert_string_equal(tiny, "abc");
}

static void test_event_json(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, BODY_V2);
    json_t *j = hookd_event_json(&f.ev);
    assert_non_null(j);
    /* The fixture has an enrichment: it comes along, as a copy. */
    assert_int_equal(json_object_size(j), 7);
    assert_true(json_equal(json_object_get(j, "enrichment"), f.ev.enrichment));
    assert_ptr_not_equal(json_object_get(j, "enrichment"), f.ev.enrichment);
    assert_string_equal(json_string_value(json_object_get(j, "id")), f.ev.id);
    assert_string_equal(json_string_value(json_object_get(j, "source")), "ctct");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "tier.increase");
    assert_string_equal(json_string_value(json_object_get(j, "received_at")),
                        "2025-11-26T12:00:00.123Z");
    assert_true(json_is_integer(json_object_get(j, "attempt")));
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 3);
    json_t *body = json_object_get(j, "body");
    assert_true(json_equal(body, f.json));
    assert_ptr_not_equal(body, f.json);

    /* Round trip through text. */
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    json_error_t je;
    json_t *back = json_loads(s, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(back, j));
    json_decref(back);
    free(s);

    /* Changing the copy leaves the event alone. */
    json_object_set_new(body, "n", json_integer(7));
    assert_int_equal(json_integer_value(json_object_get(f.json, "n")), 42);
    json_decref(j);
    fixture_fini(&f);

    hookd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "bad\xff";
    j = hookd_event_json(&ev);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "id")));
    assert_true(json_is_null(json_object_get(j, "body")));
    assert_string_equal(json_string_value(json_object_get(j, "type")), "bad?");
    assert_string_equal(json_string_value(json_object_get(j, "received_at")),
                        "1970-01-01T00:00:00.000Z");
    json_decref(j);
    assert_null(hookd_event_json(NULL));
}

static void test_iso8601(void **state)
{
    (void)state;
    char out[32];
    static const struct { int64_t ms; const char *want; } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1764158400123LL, "2025-11-26T12:00:00.123Z"},
        {1795694400123LL, "2026-11-26T12:00:00.123Z"},
        {951868799999LL, "2000-02-29T23:59:59.999Z"},
        {5, "1970-01-01T00:00:00.005Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(out, 'Z', sizeof out);
        hookd_format_iso8601_ms(cases[i].ms, out);
        assert_string_equal(out, cases[i].want);
    }
    /* Extremes stay within the buffer. */
    hookd_format_iso8601_ms(INT64_MAX, out);
    assert_true(strlen(out) < sizeof out);
    hookd_format_iso8601_ms(INT64_MIN, out);
    assert_true(strlen(out) < sizeof out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_names),
        cmocka_unit_test(test_json_pointer),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_ctct_names),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_escape_json),
        cmocka_unit_test(test_escape_url),
        cmocka_unit_test(test_escape_header),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_account_id),
        cmocka_unit_test(test_event_json),
        cmocka_unit_test(test_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
