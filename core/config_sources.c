/* Configuration, the `sources:` list (DESIGN §4): each source's path,
 * Basic credentials, verification scheme and secrets, event type, dedup and
 * enrichment. Part of the loader in config.c. */
#include "config_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    hookd_scheme scheme;
} schemes[] = {
    {"none", HOOKD_SCHEME_NONE},
    {"ctct-hmac-sha256", HOOKD_SCHEME_CTCT},
    {"github", HOOKD_SCHEME_GITHUB},
    {"stripe", HOOKD_SCHEME_STRIPE},
    {"standard-webhooks", HOOKD_SCHEME_STDWH},
    {"hmac", HOOKD_SCHEME_HMAC},
};
#define NSCHEMES (sizeof schemes / sizeof schemes[0])

/* An HTTP header name (RFC 9110 token). */
static int valid_header(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!strchr("!#$%&'*+-.^_`|~", *s) &&
            !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* A JSON pointer (RFC 6901): "/a/b~1c", every '~' followed by 0 or 1. */
static int valid_pointer(const char *s)
{
    if (*s != '/')
        return 0;
    for (; *s; s++)
        if (*s == '~' && s[1] != '0' && s[1] != '1')
            return 0;
    return 1;
}

static int valid_path(const char *s)
{
    if (*s != '/')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '?' || *s == '#' || *s == 0x7f)
            return 0;
    return 1;
}

static const char *const source_keys[] = {
    "name", "path", "auth", "verify", "event_type", "dedup", "enrich", NULL};
static const char *const auth_keys[] = {"basic", NULL};
static const char *const basic_keys[] = {"username", "password", NULL};
static const char *const verify_keys[] = {"scheme",    "secret", "secrets",
                                          "tolerance", "header", "algorithm",
                                          "encoding",  "prefix", NULL};
static const char *const dedup_keys[] = {"key", "window", NULL};

static int load_verify(hookd_cy *cy, hookd_verify_cfg *vc, yaml_node_t *src)
{
    yaml_node_t *vn;
    char *s = NULL;
    int r, e;
    if (hookd_cy_map(cy, src, "verify", verify_keys, &vn) < 0)
        return -1;
    if (!vn)
        return hookd_cy_fail(cy, src,
                             "no verify; write verify: { scheme: none } to "
                             "accept unsigned requests");
    size_t old = hookd_cy_push_key(cy, "verify");
    if (hookd_cy_req_str(cy, vn, "scheme", &s) < 0)
        return -1;
    size_t i;
    for (i = 0; i < NSCHEMES && strcmp(s, schemes[i].name); i++)
        ;
    if (i == NSCHEMES) {
        hookd_cy_fail_key(
            cy, vn, "scheme",
            "unknown scheme \"%s\" (ctct-hmac-sha256, github, stripe, "
            "standard-webhooks, hmac, none)",
            s);
        free(s);
        return -1;
    }
    free(s);
    s = NULL;
    vc->scheme = schemes[i].scheme;
    const char *sn = schemes[i].name;

    yaml_node_t *one = hookd_cy_get(cy, vn, "secret");
    yaml_node_t *many = hookd_cy_get(cy, vn, "secrets");
    if (one && many)
        return hookd_cy_fail_key(cy, vn, "secrets",
                                 "give secret or secrets, not both");
    if (vc->scheme == HOOKD_SCHEME_NONE && (one || many))
        return hookd_cy_fail_key(cy, vn, one ? "secret" : "secrets",
                                 "scheme none takes no secret");
    if (one) {
        if (hookd_cy_str(cy, vn, "secret", &s, 0) < 0)
            return -1;
        if (!(vc->secrets = calloc(1, sizeof *vc->secrets))) {
            free(s);
            return hookd_cy_fail(cy, one, "out of memory");
        }
        vc->secrets[0] = s;
        vc->nsecrets = 1;
    } else if (many && hookd_cy_strlist(cy, vn, "secrets", &vc->secrets,
                                        &vc->nsecrets, NULL) < 0) {
        return -1;
    }
    if (vc->scheme != HOOKD_SCHEME_NONE && vc->nsecrets == 0)
        return hookd_cy_fail(
            cy, vn, "scheme %s needs a secret (secret: or secrets:)", sn);

    int timed =
        vc->scheme == HOOKD_SCHEME_STRIPE || vc->scheme == HOOKD_SCHEME_STDWH;
    vc->tolerance_ms = timed ? 300000 : 0;
    if (hookd_cy_get(cy, vn, "tolerance") && !timed &&
        vc->scheme != HOOKD_SCHEME_HMAC)
        return hookd_cy_fail_key(cy, vn, "tolerance",
                                 "scheme %s has no timestamp to check", sn);
    if (hookd_cy_duration(cy, vn, "tolerance", &vc->tolerance_ms, 1000,
                          HOOKD_CY_DAY_MS) < 0)
        return -1;

    static const char *const hmac_only[] = {"header", "algorithm", "encoding",
                                            "prefix"};
    if (vc->scheme != HOOKD_SCHEME_HMAC) {
        for (size_t k = 0; k < 4; k++)
            if (hookd_cy_get(cy, vn, hmac_only[k]))
                return hookd_cy_fail_key(
                    cy, vn, hmac_only[k],
                    "only used with scheme hmac (this is %s)", sn);
    } else {
        static const char *const algs[] = {"sha256", "sha512", NULL};
        static const char *const encs[] = {"hex", "base64", NULL};
        if (hookd_cy_str(cy, vn, "header", &vc->header, 0) < 0)
            return -1;
        if (!vc->header)
            return hookd_cy_fail(cy, vn, "scheme hmac needs header");
        if (!valid_header(vc->header))
            return hookd_cy_fail_key(cy, vn, "header",
                                     "invalid header name \"%s\"", vc->header);
        if ((r = hookd_cy_enum(cy, vn, "algorithm", algs, &e)) < 0)
            return -1;
        if (r)
            vc->algorithm = e ? HOOKD_ALG_SHA512 : HOOKD_ALG_SHA256;
        if ((r = hookd_cy_enum(cy, vn, "encoding", encs, &e)) < 0)
            return -1;
        if (r)
            vc->encoding = e ? HOOKD_ENC_BASE64 : HOOKD_ENC_HEX;
        if (hookd_cy_str(cy, vn, "prefix", &vc->prefix, HOOKD_CY_EMPTY_OK) < 0)
            return -1;
        if (vc->prefix && !*vc->prefix) {
            free(vc->prefix);
            vc->prefix = NULL;
        }
    }
    hookd_cy_pop(cy, old);
    return 0;
}

static int load_event_type(hookd_cy *cy, hookd_source_cfg *sc, yaml_node_t *n)
{
    char *s = NULL;
    const char *def;
    switch (sc->verify.scheme) {
    case HOOKD_SCHEME_STDWH:
    case HOOKD_SCHEME_STRIPE:
        def = "/type";
        break;
    case HOOKD_SCHEME_GITHUB:
        def = "header:X-GitHub-Event";
        break;
    default:
        def = "/event_type";
        break;
    }
    int r = hookd_cy_str(cy, n, "event_type", &s, 0);
    if (r < 0)
        return -1;
    const char *v = r ? s : def;
    if (strncmp(v, "header:", 7) == 0 && valid_header(v + 7))
        r = hookd_cy_set_str(&sc->event_type_header, v + 7);
    else if (valid_pointer(v))
        r = hookd_cy_set_str(&sc->event_type, v);
    else
        r = hookd_cy_fail_key(cy, n, "event_type",
                              "expected a JSON pointer like /event_type or "
                              "header:Name, got \"%s\"",
                              v);
    free(s);
    return r < 0 ? -1 : 0;
}

static int load_dedup(hookd_cy *cy, hookd_source_cfg *sc, yaml_node_t *n)
{
    yaml_node_t *d;
    char *s = NULL;
    sc->dedup_window_ms = 3600000;
    if (hookd_cy_map(cy, n, "dedup", dedup_keys, &d) < 0)
        return -1;
    size_t old = hookd_cy_push_key(cy, "dedup");
    if (d && (hookd_cy_duration(cy, d, "window", &sc->dedup_window_ms, 1000,
                                365 * HOOKD_CY_DAY_MS) < 0 ||
              hookd_cy_str(cy, d, "key", &s, 0) < 0))
        return -1;
    const char *k = s;
    if (!k)
        k = sc->verify.scheme == HOOKD_SCHEME_GITHUB
                ? "header:X-GitHub-Delivery"
            : sc->verify.scheme == HOOKD_SCHEME_STDWH ? "header:webhook-id"
                                                      : "none";
    int r = 0;
    if (!strcmp(k, "none"))
        sc->dedup = HOOKD_DEDUP_NONE;
    else if (!strcmp(k, "body"))
        sc->dedup = HOOKD_DEDUP_BODY;
    else if (!strncmp(k, "header:", 7) && valid_header(k + 7)) {
        sc->dedup = HOOKD_DEDUP_HEADER;
        r = hookd_cy_set_str(&sc->dedup_arg, k + 7);
    } else if (!strncmp(k, "pointer:", 8) && valid_pointer(k + 8)) {
        sc->dedup = HOOKD_DEDUP_POINTER;
        r = hookd_cy_set_str(&sc->dedup_arg, k + 8);
    } else {
        r = hookd_cy_fail_key(
            cy, d, "key",
            "expected none, body, header:Name or pointer:/json/pointer,"
            " got \"%s\"",
            k);
    }
    free(s);
    if (r < 0)
        return -1;
    hookd_cy_pop(cy, old);
    return 0;
}

static int load_source(hookd_cy *cy, hookd_source_cfg *sc, yaml_node_t *n)
{
    yaml_node_t *auth, *basic;
    sc->mark = hookd_cy_mark(n);
    if (hookd_cy_check_map(cy, n, source_keys) < 0)
        return -1;
    if (hookd_cy_req_str(cy, n, "name", &sc->name) < 0)
        return -1;
    if (!hookd_cy_valid_name(sc->name))
        return hookd_cy_fail_key(
            cy, n, "name",
            "invalid name \"%s\" (letters, digits, '.', '_', '-')", sc->name);
    if (hookd_cy_req_str(cy, n, "path", &sc->path) < 0)
        return -1;
    if (!valid_path(sc->path))
        return hookd_cy_fail_key(
            cy, n, "path",
            "expected a request path starting with '/' (no "
            "spaces, '?' or '#'), got \"%s\"",
            sc->path);
    if (hookd_cy_map(cy, n, "auth", auth_keys, &auth) < 0)
        return -1;
    if (auth) {
        size_t old = hookd_cy_push_key(cy, "auth");
        if (hookd_cy_map(cy, auth, "basic", basic_keys, &basic) < 0)
            return -1;
        if (!basic)
            return hookd_cy_fail(cy, auth, "missing required key \"basic\"");
        hookd_cy_push_key(cy, "basic");
        if (hookd_cy_req_str(cy, basic, "username", &sc->basic_user) < 0 ||
            hookd_cy_req_str(cy, basic, "password", &sc->basic_pass) < 0)
            return -1;
        if (strchr(sc->basic_user, ':'))
            return hookd_cy_fail_key(cy, basic, "username",
                                     "must not contain ':'");
        hookd_cy_pop(cy, old);
    }
    if (load_verify(cy, &sc->verify, n) < 0)
        return -1;
    if (load_event_type(cy, sc, n) < 0 || load_dedup(cy, sc, n) < 0)
        return -1;
    static const char *const enrich[] = {"none", "ctct-plan", NULL};
    int e, r = hookd_cy_enum(cy, n, "enrich", enrich, &e);
    if (r < 0)
        return -1;
    if (r && e == 1 && hookd_cy_set_str(&sc->enrich, "ctct-plan") < 0)
        return hookd_cy_fail(cy, n, "out of memory");
    return 0;
}


int hookd_cy_load_sources(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    yaml_node_t *l;
    size_t n;
    int r = hookd_cy_list(cy, root, "sources", &l, &n);
    if (r <= 0 || n == 0)
        return r;
    if (!(cfg->sources = calloc(n, sizeof *cfg->sources)))
        return hookd_cy_fail(cy, l, "out of memory");
    cfg->nsources = n;
    for (size_t i = 0; i < n; i++) {
        size_t old = hookd_cy_push_key(cy, "sources");
        hookd_cy_push_index(cy, i);
        if (load_source(cy, &cfg->sources[i], hookd_cy_item(cy, l, i)) < 0)
            return -1;
        hookd_cy_pop(cy, old);
    }
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < j; i++) {
            if (!strcmp(cfg->sources[i].name, cfg->sources[j].name))
                return hookd_cy_fail_dup(cy, l, "sources", i, j, "name", "source name",
                                cfg->sources[j].name);
            if (!strcmp(cfg->sources[i].path, cfg->sources[j].path))
                return hookd_cy_fail_dup(cy, l, "sources", i, j, "path", "source path",
                                cfg->sources[j].path);
        }
    return 0;
}
