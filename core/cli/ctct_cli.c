/* ctct_cli: the `hookd ctct` commands (see ctct_cli.h). The client returns
 * rows normalised over v2 and v3; --json dumps them and the table is drawn
 * from the same rows. */
#include "ctct_cli.h"
#include "table.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctct/ctct.h"


static const char topics_help[] =
    "1-4, or tier.increase, tier.decrease, account.cancel, account.disable";

/* ---- output ----------------------------------------------------------------- */

static int finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "hookd ctct: writing the output: %s\n", strerror(errno));
        return HOOKD_EXIT_RUNTIME;
    }
    return HOOKD_EXIT_OK;
}

static int emit_json(const json_t *doc, FILE *out)
{
    if (json_dumpf(doc, out, JSON_INDENT(2)) != 0 || fputc('\n', out) == EOF) {
        if (finish(out) == HOOKD_EXIT_OK)
            fprintf(stderr, "hookd ctct: out of memory\n");
        return HOOKD_EXIT_RUNTIME;
    }
    return finish(out);
}

static const hookd_cli_column cols[] = {{"ID", "id"},
                                        {"EVENT TYPE", "event_type"},
                                        {"NAME", "name"},
                                        {"SUBSCRIBED", "subscribed"},
                                        {"CALLBACK", "callback"},
                                        {NULL, NULL}};

static int emit_table(const json_t *rows, FILE *out)
{
    hookd_cli_table(out, rows, cols, "no topics");
    return finish(out);
}

/* ---- errors ----------------------------------------------------------------- */

/* The one line on stderr for a failed call. */
static void report(const hookd_ctct_cfg *cc, const char *sub, int topic,
                   const hookd_ctct_result *r)
{
    const char *why = r->why;
    char after[64] = "";
    long st = r->status;
    if (r->retry_after_ms >= 0)
        snprintf(after, sizeof after, " (Retry-After %lld s)",
                 (long long)((r->retry_after_ms + 999) / 1000));
    if (st == 0 && r->from_token) {
        if (!strncmp(why, "partner token: ", 15))
            why += 15;
        fprintf(stderr, "hookd ctct: cannot get a partner token from %s: %s\n",
                cc->token_url ? cc->token_url : HOOKD_CTCT_TOKEN_URL, why);
    } else if (st == 0 && r->code == HOOKD_CTCT_RETRY) {
        fprintf(stderr, "hookd ctct: cannot reach the Constant Contact API at %s: %s\n",
                cc->base_url, why);
    } else if (st == 0) {
        fprintf(stderr, "hookd ctct: %s failed: %s\n", sub, why);
    } else if (r->from_token) {
        if (st == 400 || st == 401 || st == 403)
            fprintf(stderr,
                    "hookd ctct: partner token refused (%ld): check "
                    "ctct.client_id/client_secret\n",
                    st);
        else if (st == 429 || st >= 500)
            fprintf(stderr,
                    "hookd ctct: the partner token endpoint failed (HTTP %ld)%s: try again "
                    "later\n",
                    st, after);
        else
            fprintf(stderr, "hookd ctct: the partner token endpoint answered: %s\n", why);
    } else if (st == 401) {
        fprintf(stderr, "hookd ctct: credentials refused (401): check %s\n",
                cc->api == 3 ? "ctct.client_id/client_secret/api_key"
                             : "ctct.username/password/api_key");
    } else if (st == 403) {
        fprintf(stderr,
                "hookd ctct: forbidden (403): these partner credentials may not use the "
                "webhook subscription API\n");
    } else if (st == 404 && topic) {
        fprintf(stderr, "hookd ctct: unknown topic %d (%s) (404): Constant Contact does not "
                        "offer it to this partner\n",
                topic, hookd_ctct_topic_event(topic));
    } else if (st == 404) {
        fprintf(stderr, "hookd ctct: not found (404): check ctct.base_url (%s)\n",
                cc->base_url);
    } else if (st == 406) {
        fprintf(stderr, "hookd ctct: not acceptable (406): the API refused to answer in "
                        "JSON (Accept: application/json)\n");
    } else if (st == 429) {
        fprintf(stderr, "hookd ctct: rate limited (429)%s: try again later\n", after);
    } else if (st >= 500 && st <= 599) {
        fprintf(stderr, "hookd ctct: Constant Contact server error (HTTP %ld)%s: try again "
                        "later\n",
                st, after);
    } else if (st >= 200 && st <= 299) {
        fprintf(stderr, "hookd ctct: %s: %s\n", sub, why);
    } else {
        fprintf(stderr, "hookd ctct: %s: unexpected answer: %s\n", sub, why);
    }
}

/* ---- commands --------------------------------------------------------------- */

static int usage(const char *msg)
{
    fprintf(stderr, "hookd ctct: %s\n", msg);
    return HOOKD_EXIT_USAGE;
}

static void say_topic(FILE *out, const json_t *row)
{
    char buf[HOOKD_CLI_CELL_MAX];
    fprintf(out, "topic %s", hookd_cli_cell(json_object_get(row, "id"), buf));
    fprintf(out, " (%s)", hookd_cli_cell(json_object_get(row, "event_type"), buf));
}

static int print_result(const char *sub, const json_t *doc, FILE *out)
{
    char buf[HOOKD_CLI_CELL_MAX];
    if (!strcmp(sub, "topics"))
        return emit_table(doc, out);
    if (!strcmp(sub, "subscribe")) {
        fputs("subscribed ", out);
        say_topic(out, doc);
        fprintf(out, " to %s\n", hookd_cli_cell(json_object_get(doc, "callback"), buf));
    } else if (!strcmp(sub, "unsubscribe")) {
        fputs("unsubscribed ", out);
        say_topic(out, doc);
        fputc('\n', out);
    } else {
        fputs("test notification requested for ", out);
        say_topic(out, doc);
        fputc('\n', out);
        const json_t *ans = json_object_get(doc, "answer");
        if (ans && !json_is_null(ans)) {
            char *s = json_dumps(ans, JSON_COMPACT | JSON_ENCODE_ANY);
            if (s) {
                if (strlen(s) > 300)
                    strcpy(s + 297, "...");
                snprintf(buf, sizeof buf, "%s", s);
                for (char *p = buf; *p; p++)
                    if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
                fprintf(out, "answer: %s\n", buf);
                free(s);
            }
        }
    }
    return finish(out);
}

int hookd_ctct_cli(const hookd_config *cfg, char **pos, size_t npos, int json, FILE *out)
{
    static const struct {
        const char *name;
        size_t nargs;
        const char *form;
    } subs[] = {{"topics", 0, "topics"},
                {"subscribe", 2, "subscribe TOPIC URL"},
                {"unsubscribe", 1, "unsubscribe TOPIC"},
                {"test", 1, "test TOPIC"}};
    char msg[700];
    size_t k;
    if (npos == 0)
        return usage("expected topics, subscribe TOPIC URL, unsubscribe TOPIC or test TOPIC");
    const char *sub = pos[0];
    for (k = 0; k < sizeof subs / sizeof subs[0]; k++)
        if (!strcmp(sub, subs[k].name))
            break;
    if (k == sizeof subs / sizeof subs[0]) {
        snprintf(msg, sizeof msg,
                 "unknown subcommand \"%.64s\" (expected topics, subscribe, unsubscribe or "
                 "test)",
                 sub);
        return usage(msg);
    }
    if (npos - 1 != subs[k].nargs) {
        snprintf(msg, sizeof msg, "usage: hookd ctct %s", subs[k].form);
        return usage(msg);
    }
    int topic = 0;
    if (subs[k].nargs > 0 && (topic = hookd_ctct_topic_parse(pos[1])) < 0) {
        snprintf(msg, sizeof msg, "unknown topic \"%.64s\" (%s)", pos[1], topics_help);
        return usage(msg);
    }
    if (!cfg->ctct.present) {
        snprintf(msg, sizeof msg,
                 "no ctct: block in %s (it needs api, api_key and the partner credentials)",
                 cfg->file);
        return usage(msg);
    }
    if (!strcmp(sub, "subscribe") && hookd_ctct_callback_ok(pos[2], msg, sizeof msg) < 0)
        return usage(msg);

    hookd_ctct *c = hookd_ctct_new(&cfg->ctct);
    if (!c) {
        fprintf(stderr, "hookd ctct: cannot set up the HTTP client (libcurl)\n");
        return HOOKD_EXIT_RUNTIME;
    }
    hookd_ctct_result r = {.retry_after_ms = -1};
    int rc;
    if (k == 0)
        rc = hookd_ctct_topics(c, &r);
    else if (k == 1)
        rc = hookd_ctct_subscribe(c, topic, pos[2], &r);
    else if (k == 2)
        rc = hookd_ctct_unsubscribe(c, topic, &r);
    else
        rc = hookd_ctct_test(c, topic, &r);
    hookd_ctct_free(c);
    int code;
    if (rc != HOOKD_CTCT_OK) {
        report(&cfg->ctct, sub, topic, &r);
        code = HOOKD_EXIT_RUNTIME;
    } else {
        code = json ? emit_json(r.json, out) : print_result(sub, r.json, out);
    }
    hookd_ctct_result_clear(&r);
    return code;
}

void hookd_ctct_describe(const hookd_ctct_cfg *cc, FILE *out)
{
    if (!cc->present) {
        fputs("ctct: none (no enrichment, no `hookd ctct`)\n", out);
        return;
    }
    if (cc->api == 3)
        fprintf(out, "ctct: api v3, base %s, token %s, timeout %lld ms (api_key, client_id, "
                     "client_secret set)\n",
                cc->base_url, cc->token_url ? cc->token_url : HOOKD_CTCT_TOKEN_URL,
                (long long)cc->timeout_ms);
    else
        fprintf(out, "ctct: api v2, base %s, timeout %lld ms (api_key, username, password "
                     "set)\n",
                cc->base_url, (long long)cc->timeout_ms);
}

int hookd_cmd_ctct(const hookd_cmdline *cl)
{
    int code = HOOKD_EXIT_OK;
    hookd_config *cfg = hookd_cli_config(cl, &code);
    if (!cfg)
        return code;
    code = hookd_ctct_cli(cfg, cl->pos, cl->npos, hookd_cli_get(cl, "json") != NULL, stdout);
    hookd_config_free(cfg);
    return code;
}
