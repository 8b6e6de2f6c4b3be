/* spool_cli: the inspection and replay commands over the spool (see
 * spool_cli.h), on either driver through spool/spool_query.h: with
 * spool.driver: postgres they read (and replay on) the shared spool from
 * any node. Every command first reads its rows into one jansson document;
 * --json dumps it and the text form is rendered from the same document, so
 * the two never disagree. */
#include "spool_cli.h"
#include "table.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "cli.h"
#include "common/units.h"
#include "config/config.h"
#include "spool/spool_query.h"
#include "base/clock.h"

#define MAX_LIMIT 100000

static int no_memory(void)
{
    fprintf(stderr, "hookd: out of memory\n");
    return HOOKD_EXIT_RUNTIME;
}

/* ---------- the spool ---------- */

/* a's spool: a->cfg's, or the SQLite file a->spool_path. */
static int spool_open(const hookd_spool_cmd_args *a, int writable, hookd_spool_q **q)
{
    char err[320] = "";
    hookd_config file = {.spool_driver = "sqlite", .spool_path = (char *)a->spool_path};
    int rc = hookd_spool_q_open(a->cfg ? a->cfg : &file, writable, q, err, sizeof err);
    if (rc == 0)
        return HOOKD_EXIT_OK;
    fprintf(stderr, "hookd: %s\n", err[0] ? err : strerror(-rc));
    return HOOKD_EXIT_RUNTIME;
}

/* The exit code of a failed query (its reason on stderr); closes q. */
static int spool_fail(hookd_spool_q *q, int rc)
{
    const char *why = hookd_spool_q_error(q);
    fprintf(stderr, "hookd: %s\n", why[0] ? why : strerror(-rc));
    hookd_spool_q_close(q);
    return rc == -EINVAL ? HOOKD_EXIT_USAGE : HOOKD_EXIT_RUNTIME;
}

/* ---------- arguments ---------- */

static int parse_filter(const hookd_spool_cmd_args *a, hookd_spool_filter *f)
{
    static const char *const statuses[] = {"pending", "delivered", "dead", NULL};
    *f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f->source = a->source;
    f->type = a->type;
    f->plugin = a->plugin;
    f->status = a->status;
    f->max_limit = MAX_LIMIT;
    f->limit = a->limit <= 0 ? 0 : a->limit > MAX_LIMIT ? MAX_LIMIT : (int)a->limit;
    size_t i = 0;
    while (a->status && statuses[i] && strcmp(statuses[i], a->status) != 0)
        i++;
    if (a->status && !statuses[i]) {
        fprintf(stderr, "hookd: --status \"%s\" is not pending, delivered or dead\n", a->status);
        return HOOKD_EXIT_USAGE;
    }
    if (a->since) {
        int64_t d = hookd_parse_duration(a->since);
        if (d < 0) {
            fprintf(stderr, "hookd: --since \"%s\" is not a duration (e.g. 30s, 15m, 2h, 7d)\n",
                    a->since);
            return HOOKD_EXIT_USAGE;
        }
        f->since_ms = hookd_now_ms() - d; /* d <= INT64_MAX and now > 0: no overflow */
    }
    return HOOKD_EXIT_OK;
}

static int check_ids(char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!hookd_spool_q_valid_id(ids[i])) {
            fprintf(stderr,
                    "hookd: \"%s\" is not an event id (26 characters of Crockford base32,"
                    " upper case)\n", ids[i] ? ids[i] : "");
            return HOOKD_EXIT_USAGE;
        }
    }
    return HOOKD_EXIT_OK;
}

/* ---------- output ---------- */

static int finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "hookd: writing the output: %s\n", strerror(errno));
        return HOOKD_EXIT_RUNTIME;
    }
    return HOOKD_EXIT_OK;
}

static int emit_json(const json_t *doc, FILE *out)
{
    if (!doc)
        return no_memory();
    if (json_dumpf(doc, out, JSON_INDENT(2)) != 0 || fputc('\n', out) == EOF)
        return finish(out) ? HOOKD_EXIT_RUNTIME : no_memory();
    return finish(out);
}

/* obj[key] as text, then sep. */
static void field(FILE *out, const json_t *obj, const char *key, const char *sep)
{
    char buf[HOOKD_CLI_CELL_MAX];
    fputs(hookd_cli_cell(json_object_get(obj, key), buf), out);
    fputs(sep, out);
}

/* pre, obj[key], post; nothing when obj[key] is not a string. */
static void optional(FILE *out, const json_t *obj, const char *key, const char *pre,
                     const char *post)
{
    if (json_is_string(json_object_get(obj, key))) {
        fputs(pre, out);
        field(out, obj, key, post);
    }
}

static const hookd_cli_column EVENT_COLS[] = {
    {"ID", "id"},     {"RECEIVED", "received_at"},     {"SOURCE", "source"},
    {"TYPE", "type"}, {"DELIVERIES", "deliveries"},    {NULL, NULL}};
static const hookd_cli_column DEAD_COLS[] = {
    {"DELIVERY", "delivery"}, {"EVENT", "event"},       {"SOURCE", "source"},
    {"TYPE", "type"},         {"PLUGIN", "plugin"},     {"ATTEMPTS", "attempts"},
    {"AT", "at"},             {"REASON", "reason"},     {NULL, NULL}};

static int emit_table(const json_t *rows, const hookd_cli_column *cols, const char *empty,
                      FILE *out)
{
    hookd_cli_table(out, rows, cols, empty);
    return finish(out);
}

static int print_event(const json_t *ev, FILE *out)
{
    const json_t *body = json_object_get(ev, "body"), *del, *at;
    size_t i, j;
    field(out, ev, "id", "  ");
    field(out, ev, "received_at", "  ");
    field(out, ev, "source", "  ");
    field(out, ev, "type", "");
    fprintf(out, "  (%zu headers, ", json_object_size(json_object_get(ev, "headers")));
    if (json_is_string(body))
        fprintf(out, "%zu-byte body)\n", json_string_length(body));
    else
        fputs("body not UTF-8)\n", out);
    const json_t *enr = json_object_get(ev, "enrichment");
    if (json_is_object(enr)) {
        char *text = json_dumps(enr, JSON_COMPACT);
        if (text)
            fprintf(out, "  enrichment %s\n", text);
        free(text);
    }
    const json_t *dels = json_object_get(ev, "deliveries");
    if (json_array_size(dels) == 0)
        fputs("  no deliveries\n", out);
    json_array_foreach(dels, i, del) {
        json_int_t n = json_integer_value(json_object_get(del, "attempts"));
        fputs("  ", out);
        field(out, del, "plugin", ": ");
        field(out, del, "state", "");
        fprintf(out, ", %" JSON_INTEGER_FORMAT " attempt%s", n, n == 1 ? "" : "s");
        optional(out, del, "next_at", ", next at ", "");
        optional(out, del, "reason", ", last reason ", "");
        fputc('\n', out);
        json_array_foreach(json_object_get(del, "history"), j, at) {
            fprintf(out, "    #%" JSON_INTEGER_FORMAT "  ",
                    json_integer_value(json_object_get(at, "n")));
            field(out, at, "started_at", "  ");
            fprintf(out, "%" JSON_INTEGER_FORMAT " ms  ",
                    json_integer_value(json_object_get(at, "duration_ms")));
            field(out, at, "result", "");
            optional(out, at, "reason", "  ", "");
            optional(out, at, "retry_at", "  (retry at ", ")");
            fputc('\n', out);
        }
    }
    return finish(out);
}

/* ---------- events, dead ---------- */

typedef int (*list_fn)(hookd_spool_q *q, const hookd_spool_filter *f, json_t **rows,
                       char **next);

static int list(const hookd_spool_cmd_args *a, list_fn fn, const hookd_cli_column *cols,
                const char *empty, FILE *out)
{
    hookd_spool_filter f;
    hookd_spool_q *q = NULL;
    json_t *rows = NULL;
    char *next = NULL;
    int code = parse_filter(a, &f);
    if (code || (code = spool_open(a, 0, &q)))
        return code;
    int rc = fn(q, &f, &rows, &next);
    free(next); /* one page: --limit says how long */
    if (rc)
        return spool_fail(q, rc);
    hookd_spool_q_close(q);
    code = a->json ? emit_json(rows, out) : emit_table(rows, cols, empty, out);
    json_decref(rows);
    return code;
}

int hookd_spool_cmd_events(const hookd_spool_cmd_args *a, FILE *out)
{
    return list(a, hookd_spool_q_events, EVENT_COLS, "no events", out);
}

int hookd_spool_cmd_dead(const hookd_spool_cmd_args *a, FILE *out)
{
    return list(a, hookd_spool_q_dead, DEAD_COLS, "no dead letters", out);
}

/* ---------- events show ---------- */

int hookd_spool_cmd_show(const hookd_spool_cmd_args *a, FILE *out)
{
    hookd_spool_q *q = NULL;
    json_t *doc = NULL;
    if (a->nids != 1) {
        fprintf(stderr, "hookd: events show takes one event id\n");
        return HOOKD_EXIT_USAGE;
    }
    int code = check_ids(a->ids, 1);
    if (code || (code = spool_open(a, 0, &q)))
        return code;
    int rc = hookd_spool_q_event(q, a->ids[0], &doc);
    if (rc)
        return spool_fail(q, rc);
    hookd_spool_q_close(q);
    code = a->json ? emit_json(doc, out) : print_event(doc, out);
    json_decref(doc);
    return code;
}

/* ---------- replay ---------- */

static int replay_usage(const hookd_spool_cmd_args *a)
{
    const char *why = NULL;
    if (!a->dead && a->nids == 0)
        why = "replay needs event ids or --dead";
    else if (a->dead && a->nids > 0)
        why = "replay takes event ids or --dead, not both";
    else if (!a->dead && (a->plugin || a->source || a->type))
        why = a->plugin ? "--plugin goes with replay --dead"
              : a->source ? "--source goes with replay --dead"
                          : "--type goes with replay --dead";
    if (why) {
        fprintf(stderr, "hookd: %s\n", why);
        return HOOKD_EXIT_USAGE;
    }
    return check_ids(a->ids, a->nids);
}

int hookd_spool_cmd_replay(const hookd_spool_cmd_args *a, FILE *out)
{
    hookd_spool_q *q = NULL;
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    int64_t n = 0;
    int code = replay_usage(a);
    if (code || (code = spool_open(a, 1, &q)))
        return code;
    f.plugin = a->plugin;
    f.source = a->source;
    f.type = a->type;
    int rc = a->dead ? hookd_spool_q_replay_dead(q, &f, NULL, 0, &n)
                     : hookd_spool_q_replay_events(q, (const char *const *)a->ids, a->nids,
                                                   NULL, 0, &n);
    if (rc)
        return spool_fail(q, rc);
    hookd_spool_q_close(q);
    if (a->json) {
        json_t *doc = json_pack("{s:I}", "replayed", (json_int_t)n);
        code = emit_json(doc, out);
        json_decref(doc);
        return code;
    }
    fprintf(out, "replayed %" PRId64 " deliver%s", n, n == 1 ? "y" : "ies");
    if (n > 0)
        fprintf(out, " (a running hookd picks %s up within a second; otherwise the next"
                     " start does)", n == 1 ? "it" : "them");
    fputc('\n', out);
    return finish(out);
}

/* ---------- the commands from the table ---------- */

/* a with --limit (NULL for replay, which has none), --json and the spool of
 * -c FILE, given to fn. */
static int run_spool_cmd(const hookd_cmdline *cl, hookd_spool_cmd_args a, const char *limit,
                         int (*fn)(const hookd_spool_cmd_args *, FILE *))
{
    if (limit) {
        char *end;
        errno = 0;
        a.limit = strtol(limit, &end, 10);
        if (end == limit || *end || a.limit <= 0 || errno) {
            fprintf(stderr, "hookd: --limit wants a positive number\n");
            return HOOKD_EXIT_USAGE;
        }
    }
    a.json = hookd_cli_get(cl, "json") != NULL;
    int code = HOOKD_EXIT_OK;
    hookd_config *cfg = hookd_cli_config(cl, &code);
    if (!cfg)
        return code;
    a.cfg = cfg;
    a.spool_path = cfg->spool_path;
    code = fn(&a, stdout);
    hookd_config_free(cfg);
    return code;
}

int hookd_cmd_events(const hookd_cmdline *cl)
{
    hookd_spool_cmd_args a = {.type = hookd_cli_get(cl, "type"),
                              .since = hookd_cli_get(cl, "since"),
                              .source = hookd_cli_get(cl, "source"),
                              .status = hookd_cli_get(cl, "status")};
    if (cl->npos > 0 && strcmp(cl->pos[0], "show") == 0) {
        a.ids = cl->pos + 1;
        a.nids = cl->npos - 1;
        return run_spool_cmd(cl, a, hookd_cli_get(cl, "limit"), hookd_spool_cmd_show);
    }
    if (cl->npos > 0) {
        fprintf(stderr, "hookd: unexpected argument \"%s\"\n", cl->pos[0]);
        return HOOKD_EXIT_USAGE;
    }
    return run_spool_cmd(cl, a, hookd_cli_get(cl, "limit"), hookd_spool_cmd_events);
}

int hookd_cmd_dead(const hookd_cmdline *cl)
{
    hookd_spool_cmd_args a = {.plugin = hookd_cli_get(cl, "plugin"),
                              .source = hookd_cli_get(cl, "source"),
                              .type = hookd_cli_get(cl, "type")};
    return run_spool_cmd(cl, a, hookd_cli_get(cl, "limit"), hookd_spool_cmd_dead);
}

int hookd_cmd_replay(const hookd_cmdline *cl)
{
    hookd_spool_cmd_args a = {.plugin = hookd_cli_get(cl, "plugin"),
                              .source = hookd_cli_get(cl, "source"),
                              .type = hookd_cli_get(cl, "type"),
                              .dead = hookd_cli_get(cl, "dead") != NULL,
                              .ids = cl->pos,
                              .nids = cl->npos};
    return run_spool_cmd(cl, a, NULL, hookd_spool_cmd_replay);
}
