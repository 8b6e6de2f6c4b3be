/* cli: the command line parsed against the command table's row (cli.h). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "daemon/daemon.h"

/* Every command's options. */
static const hookd_cli_opt common_opts[] = {
    {"config", 'c', "FILE",
     "configuration (default ./hookd.yaml, then /etc/hookd/hookd.yaml,\n"
     "then the embedded default: plain HTTP on 127.0.0.1:8080)"},
    {"help", 'h', NULL, "this text"},
    {0},
};

#define HELP_COL 22 /* where an option's help starts */

static const hookd_cli_cmd *find_cmd(const hookd_cli_cmd *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

static const hookd_cli_opt *find_opt(const hookd_cli_opt *o, const char *name, size_t len)
{
    for (; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* The option --name[=...] (len: up to '=') of any command: the first row
 * holding it, or the common ones (cmd NULL). Exact names only. */
static const hookd_cli_opt *any_opt(const hookd_cli_cmd *t, size_t n, const char *name,
                                    size_t len, const hookd_cli_cmd **cmd)
{
    const hookd_cli_opt *o = find_opt(common_opts, name, len);
    *cmd = NULL;
    for (size_t i = 0; !o && i < n; i++)
        if ((o = find_opt(t[i].opts, name, len)) != NULL)
            *cmd = &t[i];
    return o;
}

/* Whether the option word a (from argv) takes the next word as its value,
 * looked up over every command: finding the command word must step over
 * the values of options written before it. */
static int takes_next(const hookd_cli_cmd *t, size_t n, const char *a)
{
    if (a[1] != '-') { /* -c FILE; -cFILE; -h */
        for (size_t i = 0; i <= n; i++) {
            const hookd_cli_opt *o = i < n ? t[i].opts : common_opts;
            for (; o && o->name; o++)
                if (o->letter && o->letter == a[1])
                    return o->arg != NULL && a[2] == '\0';
        }
        return 0;
    }
    const char *name = a + 2;
    if (strchr(name, '='))
        return 0;
    const hookd_cli_cmd *c;
    const hookd_cli_opt *o = any_opt(t, n, name, strlen(name), &c);
    if (o)
        return o->arg != NULL;
    /* An abbreviation (getopt_long takes a unique prefix): the options it
     * may stand for. */
    for (size_t i = 0; i <= n; i++)
        for (o = i < n ? t[i].opts : common_opts; o && o->name; o++)
            if (strncmp(o->name, name, strlen(name)) == 0)
                return o->arg != NULL;
    return 0;
}

/* ---------- help ---------- */

static void print_opts(const hookd_cli_opt *o, FILE *f)
{
    for (; o && o->name; o++) {
        char head[64];
        const char *sp = o->arg ? " " : "", *arg = o->arg ? o->arg : "";
        int w = o->letter ? snprintf(head, sizeof head, "  -%c, --%s%s%s", o->letter, o->name, sp, arg)
                          : snprintf(head, sizeof head, "  --%s%s%s", o->name, sp, arg);
        fputs(head, f);
        if (w >= HELP_COL - 1)
            fprintf(f, "\n%*s", HELP_COL, "");
        else
            fprintf(f, "%*s", HELP_COL - w, "");
        for (const char *h = o->help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n')
                fprintf(f, "%*s", HELP_COL, "");
        }
        fputc('\n', f);
    }
}

static void general_help(const hookd_cli_cmd *t, size_t n, FILE *f)
{
    fputs("usage: hookd [COMMAND] [OPTIONS]\n\nCommands:\n", f);
    for (size_t i = 0; i < n; i++)
        fputs(t[i].usage, f);
    fputs("\nOptions of every command (options may stand before or after its arguments):\n", f);
    print_opts(common_opts, f);
    fputs("\nhookd COMMAND --help lists the options of COMMAND; any other is refused.\n", f);
}

static void command_help(const hookd_cli_cmd *c, FILE *f)
{
    fprintf(f, "usage:\n%s", c->usage);
    if (c->opts && c->opts->name) {
        fprintf(f, "\nOptions of %s (before or after its arguments):\n", c->name);
        print_opts(c->opts, f);
    }
    fputs("\nOptions of every command:\n", f);
    print_opts(common_opts, f);
}

/* ---------- parsing ---------- */

/* The option word at argv[i] as the user wrote it, without "=value". */
static void option_word(const char *a, int optopt_, char *out, size_t len)
{
    if (optopt_ > 0 && optopt_ < 256) {
        snprintf(out, len, "-%c", optopt_);
        return;
    }
    size_t n = strcspn(a, "=");
    snprintf(out, len, "%.*s", (int)n, a);
}

static int refuse(const hookd_cli_cmd *t, size_t n, const hookd_cli_cmd *c, const char *word)
{
    const hookd_cli_cmd *other = NULL;
    const hookd_cli_opt *o = NULL;
    if (word[0] == '-' && word[1] == '-')
        o = any_opt(t, n, word + 2, strlen(word + 2), &other);
    else if (word[0] == '-')
        for (size_t i = 0; !o && i < n; i++)
            for (const hookd_cli_opt *p = t[i].opts; p && p->name && !o; p++)
                if (p->letter == word[1])
                    o = p, other = &t[i];
    if (o && other)
        fprintf(stderr, "hookd %s: %s is not an option of %s (it is one of %s)\n", c->name,
                word, c->name, other->name);
    else
        fprintf(stderr, "hookd %s: unknown option %s (hookd %s --help lists its options)\n",
                c->name, word, c->name);
    return HOOKD_EXIT_USAGE;
}

int hookd_cli_main(const hookd_cli_cmd *table, size_t n, int argc, char **argv)
{
    /* The command word: the first argument that is not an option or the
     * value of one. */
    int at = 0;
    for (int i = 1; i < argc && !at; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            at = i + 1 < argc ? i + 1 : -1;
        else if (a[0] != '-' || a[1] == '\0')
            at = i;
        else if (takes_next(table, n, a))
            i++;
    }
    const hookd_cli_cmd *c = find_cmd(table, n, at > 0 ? argv[at] : "run");
    if (!c) {
        fprintf(stderr, "hookd: unknown command \"%s\" (hookd --help lists them)\n", argv[at]);
        return HOOKD_EXIT_USAGE;
    }

    /* Its options: its own and the common ones, each known to getopt_long
     * by its place in opts[]. */
    size_t nown = 0, ncommon = sizeof common_opts / sizeof common_opts[0] - 1;
    while (c->opts && c->opts[nown].name)
        nown++;
    size_t nopt = nown + ncommon;
    const hookd_cli_opt **opts = calloc(nopt, sizeof *opts);
    struct option *lo = calloc(nopt + 1, sizeof *lo);
    char *shorts = calloc(2 * nopt + 2, 1), **args = calloc((size_t)argc + 1, sizeof *args);
    struct hookd_cli_given *given = calloc((size_t)argc, sizeof *given);
    int code = -1;
    if (!opts || !lo || !shorts || !args || !given) {
        fprintf(stderr, "hookd: out of memory\n");
        code = HOOKD_EXIT_RUNTIME;
        goto out;
    }
    char *sp = shorts;
    *sp++ = ':'; /* a missing value returns ':' */
    for (size_t i = 0; i < nopt; i++) {
        const hookd_cli_opt *o = opts[i] = i < nown ? &c->opts[i] : &common_opts[i - nown];
        lo[i] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
                                256 + (int)i};
        if (o->letter) {
            *sp++ = o->letter;
            if (o->arg)
                *sp++ = ':';
        }
    }
    /* argv without the command word; getopt_long permutes this copy. */
    int nargs = 0;
    for (int i = 0; i < argc; i++)
        if (at <= 0 || i != at)
            args[nargs++] = argv[i];

    hookd_cmdline cl = {.cmd = c, .given = given};
    int help = 0, ch;
    opterr = 0;
    optind = 1;
    while (code < 0 && (ch = getopt_long(nargs, args, shorts, lo, NULL)) != -1) {
        const hookd_cli_opt *o = NULL;
        if (ch >= 256)
            o = opts[ch - 256];
        else
            for (size_t i = 0; i < nopt && !o; i++)
                if (ch != '?' && ch != ':' && opts[i]->letter == ch)
                    o = opts[i];
        if (ch == '?' || ch == ':') {
            char word[64];
            option_word(args[optind - 1], optopt >= 256 ? 0 : optopt, word, sizeof word);
            if (ch == ':') {
                if (optopt >= 256)
                    snprintf(word, sizeof word, "--%s", opts[optopt - 256]->name);
                fprintf(stderr, "hookd %s: %s needs a value\n", c->name, word);
                code = HOOKD_EXIT_USAGE;
            } else {
                code = refuse(table, n, c, word);
            }
        } else if (strcmp(o->name, "help") == 0) {
            help = 1;
        } else if (strcmp(o->name, "config") == 0) {
            cl.config = optarg;
        } else {
            given[cl.ngiven++] = (struct hookd_cli_given){o, o->arg ? optarg : ""};
        }
    }
    if (code >= 0)
        goto out;
    if (help) {
        if (at > 0)
            command_help(c, stdout);
        else
            general_help(table, n, stdout);
        code = HOOKD_EXIT_OK;
        goto out;
    }
    cl.pos = args + optind;
    cl.npos = (size_t)(nargs - optind);
    if (c->maxpos >= 0 && cl.npos > (size_t)c->maxpos) {
        fprintf(stderr, "hookd: unexpected argument \"%s\"\n", cl.pos[c->maxpos]);
        code = HOOKD_EXIT_USAGE;
        goto out;
    }
    code = c->run(&cl);
out:
    free(opts);
    free(lo);
    free(shorts);
    free(args);
    free(given);
    return code;
}

/* ---------- the parsed options ---------- */

static void check_name(const hookd_cmdline *cl, const char *name)
{
    if (!find_opt(cl->cmd->opts, name, strlen(name))) {
        fprintf(stderr, "hookd %s: --%s is not in its table row\n", cl->cmd->name, name);
        abort();
    }
}

const char *hookd_cli_get(const hookd_cmdline *cl, const char *name)
{
    check_name(cl, name);
    for (size_t i = cl->ngiven; i-- > 0;)
        if (strcmp(cl->given[i].opt->name, name) == 0)
            return cl->given[i].value;
    return NULL;
}

size_t hookd_cli_get_all(const hookd_cmdline *cl, const char *name, const char **out, size_t max)
{
    size_t k = 0;
    check_name(cl, name);
    for (size_t i = 0; i < cl->ngiven; i++)
        if (strcmp(cl->given[i].opt->name, name) == 0) {
            if (k < max)
                out[k] = cl->given[i].value;
            k++;
        }
    return k;
}

/* ---------- the configuration ---------- */

hookd_config *hookd_cli_config(const hookd_cmdline *cl, int *exit_code)
{
    char err[1024];
    int embedded = 0;
    hookd_config *cfg = hookd_config_find(cl->config, &embedded, err, sizeof err);
    if (embedded)
        fprintf(stderr, "hookd: no hookd.yaml here or in /etc/hookd: using the embedded "
                        "default configuration\n");
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        *exit_code = HOOKD_EXIT_USAGE;
    }
    return cfg;
}

hookd_runtime *hookd_cli_runtime(const hookd_cmdline *cl, int *exit_code)
{
    hookd_config *cfg = hookd_cli_config(cl, exit_code);
    if (!cfg)
        return NULL;
    hookd_log_setup(cfg->log_level, cfg->log_json);
    char err[1024];
    hookd_runtime *rt = hookd_runtime_build(cfg, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "%s\n", err);
        *exit_code = HOOKD_EXIT_USAGE;
    }
    return rt;
}
