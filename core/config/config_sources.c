/* Configuration, the `sources:` list (docs/DESIGN.md §4): each source's path,
 * Basic credentials, verification scheme and secrets, event type, dedup and
 * enrichment. Part of the loader in config.c. */
#include "config_yaml.h"
#include "base/base64.h"
#include "ctct/ctct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

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
static const char *const dedup_keys[] = {"key", "window", NULL};

static const char *const verify_keys[] = {
    "scheme", "secret",    "secrets",  "tolerance", "header",  "algorithm",
    "encoding", "prefix", "jwks_url", "jwks_file", "ca_file", "refresh", NULL};

/* What verify.c decodes: base64 after an optional "whsec_". */
static int stdwh_secret_ok(const char *secret)
{
    unsigned char key[1024 + 3];
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    int n = hookd_b64_decode(secret, strlen(secret), key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    return n >= 1 && n <= 1024;
}

static int load_hmac(hookd_cy *cy, hookd_verify_cfg *vc, yaml_node_t *vn)
{
    static const char *const algs[] = {"sha256", "sha512", NULL};
    static const char *const encs[] = {"hex", "base64", NULL};
    int r, e;
    if (hookd_cy_str(cy, vn, "header", &vc->header, 0) < 0)
        return -1;
    if (!vc->header)
        return hookd_cy_fail(cy, vn, "scheme hmac needs header");
    if (!valid_header(vc->header))
        return hookd_cy_fail_key(cy, vn, "header", "invalid header name \"%s\"", vc->header);
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
    return 0;
}

/* ctct-jws (docs/DESIGN.md §10): where the key set comes from and how often. */
static int load_jws(hookd_cy *cy, hookd_verify_cfg *vc, yaml_node_t *vn)
{
    char why[160];
    if (hookd_cy_str(cy, vn, "jwks_url", &vc->jwks_url, 0) < 0 ||
        hookd_cy_str(cy, vn, "jwks_file", &vc->jwks_file, 0) < 0 ||
        hookd_cy_str(cy, vn, "ca_file", &vc->ca_file, 0) < 0)
        return -1;
    if (vc->jwks_url && vc->jwks_file)
        return hookd_cy_fail_key(cy, vn, "jwks_file", "give jwks_url or jwks_file, not both");
    if (vc->jwks_file && vc->ca_file)
        return hookd_cy_fail_key(cy, vn, "ca_file", "only used with jwks_url");
    if (!vc->jwks_file && !vc->jwks_url &&
        hookd_cy_set_str(&vc->jwks_url, HOOKD_CTCT_JWKS_URL) < 0)
        return hookd_cy_fail(cy, vn, "out of memory");
    if (vc->jwks_url && hookd_ctct_jwks_url_check(vc->jwks_url, why, sizeof why) < 0)
        return hookd_cy_fail_key(cy, vn, "jwks_url", "%s", why);
    vc->refresh_ms = 3600000;
    return hookd_cy_duration(cy, vn, "refresh", &vc->refresh_ms, 1000, HOOKD_CY_DAY_MS) < 0
               ? -1
               : 0;
}

/* Each scheme's rules, in one place (docs/DESIGN.md §4 and §10). The order is the
 * one the unknown-scheme message lists. */
typedef struct scheme_def {
    const char *name;
    hookd_scheme scheme;
    int secret;               /* 1: needs secret: or secrets:; 0: takes none */
    int (*secret_ok)(const char *); /* NULL: any string will do */
    const char *secret_what;  /* what secret_ok wants, for its error */
    int64_t tolerance_ms;     /* the default replay window; 0: no timestamp to check */
    int alone;                /* cannot stand in a list beside another scheme */
    /* Keys only this scheme reads (besides scheme, secret(s), tolerance),
     * and what reads them. */
    const char *const *keys;
    int (*load)(hookd_cy *cy, hookd_verify_cfg *vc, yaml_node_t *vn);
    const char *event_type;   /* the default event_type: */
    const char *dedup;        /* the default dedup.key */
} scheme_def;

static const char *const hmac_keys[] = {"header", "algorithm", "encoding", "prefix", NULL};
static const char *const jws_keys[] = {"jwks_url", "jwks_file", "ca_file", "refresh", NULL};

static const scheme_def schemes[] = {
    {.name = "ctct-jws", .scheme = HOOKD_SCHEME_JWS, .tolerance_ms = 300000,
     .keys = jws_keys, .load = load_jws, .event_type = "/event_type", .dedup = "none"},
    {.name = "ctct-hmac-sha256", .scheme = HOOKD_SCHEME_CTCT, .secret = 1,
     .event_type = "/event_type", .dedup = "none"},
    {.name = "github", .scheme = HOOKD_SCHEME_GITHUB, .secret = 1,
     .event_type = "header:X-GitHub-Event", .dedup = "header:X-GitHub-Delivery"},
    {.name = "stripe", .scheme = HOOKD_SCHEME_STRIPE, .secret = 1, .tolerance_ms = 300000,
     .event_type = "/type", .dedup = "none"},
    {.name = "standard-webhooks", .scheme = HOOKD_SCHEME_STDWH, .secret = 1,
     .secret_ok = stdwh_secret_ok,
     .secret_what = "not a Standard Webhooks secret (whsec_ and base64 of 1 to 1024 bytes)",
     .tolerance_ms = 300000, .event_type = "/type", .dedup = "header:webhook-id"},
    /* hmac signs no timestamp hookd could read: a tolerance would be a
     * promise of replay protection that nothing keeps. */
    {.name = "hmac", .scheme = HOOKD_SCHEME_HMAC, .secret = 1, .keys = hmac_keys,
     .load = load_hmac, .event_type = "/event_type", .dedup = "none"},
    {.name = "none", .scheme = HOOKD_SCHEME_NONE, .alone = 1, .event_type = "/event_type",
     .dedup = "none"},
};
#define NSCHEMES (sizeof schemes / sizeof schemes[0])

static const scheme_def *scheme_of(hookd_scheme sch)
{
    for (size_t i = 0; i < NSCHEMES; i++)
        if (schemes[i].scheme == sch)
            return &schemes[i];
    return &schemes[NSCHEMES - 1]; /* not reached: every scheme is listed */
}

static const scheme_def *scheme_named(const char *name)
{
    for (size_t i = 0; i < NSCHEMES; i++)
        if (!strcmp(schemes[i].name, name))
            return &schemes[i];
    return NULL;
}

/* The scheme that reads `key`, or NULL for a key every scheme shares. */
static const scheme_def *key_owner(const char *key)
{
    for (size_t i = 0; i < NSCHEMES; i++)
        for (const char *const *k = schemes[i].keys; k && *k; k++)
            if (!strcmp(*k, key))
                return &schemes[i];
    return NULL;
}

/* A key another scheme reads is an error naming this one, not a silent
 * no-op. */
static int refuse_foreign(hookd_cy *cy, yaml_node_t *vn, const scheme_def *def)
{
    for (const char *const *k = verify_keys; *k; k++) {
        const scheme_def *owner = key_owner(*k);
        if (owner && owner != def && hookd_cy_get(cy, vn, *k))
            return hookd_cy_fail_key(cy, vn, *k, "only used with scheme %s (this is %s)",
                                     owner->name, def->name);
    }
    return 0;
}

static int load_secrets(hookd_cy *cy, hookd_verify_cfg *vc, yaml_node_t *vn,
                        const scheme_def *def)
{
    char *s = NULL;
    yaml_node_t *one = hookd_cy_get(cy, vn, "secret");
    yaml_node_t *many = hookd_cy_get(cy, vn, "secrets");
    if (one && many)
        return hookd_cy_fail_key(cy, vn, "secrets", "give secret or secrets, not both");
    if (!def->secret && (one || many))
        return hookd_cy_fail_key(cy, vn, one ? "secret" : "secrets",
                                 "scheme %s takes no secret", def->name);
    yaml_node_t **nodes = NULL;
    if (one) {
        if (hookd_cy_str(cy, vn, "secret", &s, 0) < 0)
            return -1;
        if (!(vc->secrets = calloc(1, sizeof *vc->secrets))) {
            free(s);
            return hookd_cy_fail(cy, one, "out of memory");
        }
        vc->secrets[0] = s;
        vc->nsecrets = 1;
    } else if (many &&
               hookd_cy_strlist(cy, vn, "secrets", &vc->secrets, &vc->nsecrets, &nodes) < 0) {
        return -1;
    }
    /* A secret the scheme cannot use would answer 401 to everything: say
     * so at load, at the secret. */
    for (size_t i = 0; def->secret_ok && i < vc->nsecrets; i++)
        if (!def->secret_ok(vc->secrets[i])) {
            int r = one ? hookd_cy_fail_key(cy, vn, "secret", "%s", def->secret_what)
                        : (hookd_cy_push_key(cy, "secrets"), hookd_cy_push_index(cy, i),
                           hookd_cy_fail(cy, nodes[i], "%s", def->secret_what));
            free(nodes);
            return r;
        }
    free(nodes);
    if (def->secret && vc->nsecrets == 0)
        return hookd_cy_fail(cy, vn, "scheme %s needs a secret (secret: or secrets:)",
                             def->name);
    return 0;
}

/* One verify entry: a mapping with its scheme and that scheme's keys. */
static int load_one_verify(hookd_cy *cy, hookd_verify_cfg *vc, yaml_node_t *vn)
{
    char *s = NULL;
    vc->mark = hookd_cy_mark(vn);
    if (hookd_cy_check_map(cy, vn, verify_keys) < 0 || hookd_cy_req_str(cy, vn, "scheme", &s) < 0)
        return -1;
    const scheme_def *def = scheme_named(s);
    if (!def) {
        char names[160] = "";
        for (size_t i = 0, n = 0; i < NSCHEMES; i++, n = strlen(names))
            snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", schemes[i].name);
        hookd_cy_fail_key(cy, vn, "scheme", "unknown scheme \"%s\" (%s)", s, names);
        free(s);
        return -1;
    }
    free(s);
    vc->scheme = def->scheme;
    if (refuse_foreign(cy, vn, def) < 0 || load_secrets(cy, vc, vn, def) < 0)
        return -1;
    vc->tolerance_ms = def->tolerance_ms;
    if (hookd_cy_get(cy, vn, "tolerance") && !def->tolerance_ms)
        return hookd_cy_fail_key(cy, vn, "tolerance", "scheme %s has no timestamp to check",
                                 def->name);
    if (hookd_cy_duration(cy, vn, "tolerance", &vc->tolerance_ms, 1000, HOOKD_CY_DAY_MS) < 0)
        return -1;
    return def->load ? def->load(cy, vc, vn) : 0;
}

/* verify: one mapping, or a list of them for a source migrating between
 * schemes (docs/DESIGN.md §10): no scheme twice, and none stands alone. */
static int load_verify(hookd_cy *cy, hookd_source_cfg *sc, yaml_node_t *src)
{
    yaml_node_t *vn = hookd_cy_get(cy, src, "verify");
    if (!vn || hookd_cy_is_null(vn))
        return hookd_cy_fail(cy, src,
                             "no verify; write verify: { scheme: none } to "
                             "accept unsigned requests");
    size_t old = hookd_cy_push_key(cy, "verify");
    if (vn->type == YAML_MAPPING_NODE) {
        sc->nverify = 1;
        if (load_one_verify(cy, &sc->verify[0], vn) < 0)
            return -1;
        hookd_cy_pop(cy, old);
        return 0;
    }
    size_t n = vn->type == YAML_SEQUENCE_NODE ? hookd_cy_len(vn) : 0;
    if (n == 0 || n > HOOKD_MAX_VERIFY)
        return hookd_cy_fail(cy, vn, "expected a mapping or a list of 1 to %d mappings",
                             HOOKD_MAX_VERIFY);
    for (size_t i = 0; i < n; i++) {
        size_t at = hookd_cy_push_index(cy, i);
        yaml_node_t *item = hookd_cy_item(cy, vn, i);
        if (item->type != YAML_MAPPING_NODE)
            return hookd_cy_fail(cy, item, "expected a mapping with a scheme");
        sc->nverify = i + 1; /* so that free sees what was loaded */
        if (load_one_verify(cy, &sc->verify[i], item) < 0)
            return -1;
        const scheme_def *def = scheme_of(sc->verify[i].scheme);
        if (def->alone && n > 1)
            return hookd_cy_fail(cy, item, "scheme %s cannot stand beside another scheme",
                                 def->name);
        for (size_t j = 0; j < i; j++)
            if (sc->verify[j].scheme == def->scheme)
                return hookd_cy_fail(cy, item, "scheme %s is listed twice", def->name);
        hookd_cy_pop(cy, at);
    }
    hookd_cy_pop(cy, old);
    return 0;
}

static int load_event_type(hookd_cy *cy, hookd_source_cfg *sc, yaml_node_t *n)
{
    char *s = NULL;
    const char *def = scheme_of(sc->verify[0].scheme)->event_type;
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
        k = scheme_of(sc->verify[0].scheme)->dedup;
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
    if (load_verify(cy, sc, n) < 0)
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
