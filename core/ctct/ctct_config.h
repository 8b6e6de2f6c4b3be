/* ctct_config: what the ctct: block of the configuration says (docs/DESIGN.md
 * §8): the one list of its fields, with the copy, the comparison and the
 * release that the daemon's reload needs. The YAML reader is config/'s. */
#ifndef HOOKD_CTCT_CONFIG_H
#define HOOKD_CTCT_CONFIG_H

#include <stdint.h>

#include "base/mark.h"

/* The Constant Contact API (ctct: block): enrichment and `hookd ctct`. */
#define HOOKD_CTCT_V2_BASE "https://api.constantcontact.com"
#define HOOKD_CTCT_V3_BASE "https://api.cc.email"
#define HOOKD_CTCT_TOKEN_URL "https://v3api-partner.auth.us-east-1.amazoncognito.com/oauth2/token"

typedef struct hookd_ctct_cfg {
    int present;        /* a ctct: block was written */
    int api;            /* 2 (default) or 3 */
    char *base_url;     /* scheme://host[:port], no path; default https://api.constantcontact.com (v2), https://api.cc.email (v3) */
    char *api_key;
    char *username, *password;                  /* v2 partner Basic */
    char *client_id, *client_secret, *token_url;/* v3; token_url default HOOKD_CTCT_TOKEN_URL */
    int64_t timeout_ms; /* default 10 s */
    hookd_mark mark;
} hookd_ctct_cfg;

/* A deep copy (to owns its strings). 0, or -1 on no memory (to is then
 * cleared with hookd_ctct_cfg_clear). */
int hookd_ctct_cfg_copy(hookd_ctct_cfg *to, const hookd_ctct_cfg *from);
/* 1 when the two would make different clients (any field differs). */
int hookd_ctct_cfg_differs(const hookd_ctct_cfg *a, const hookd_ctct_cfg *b);
/* Wipes the secrets, frees every string, leaves c zeroed. */
void hookd_ctct_cfg_clear(hookd_ctct_cfg *c);

#endif
