/* The full example of docs/DESIGN.md §4, shared by the tests of each part of it
 * (test_config.c, test_config_sources.c, test_config_routes.c): the marks
 * they check are lines of this one document. */
#ifndef HOOKD_CONFIG_FULL_H
#define HOOKD_CONFIG_FULL_H

#include <stdlib.h>

#include "config_test.h"

static const char full_yaml[] =
    "server:\n"
    "  listen: [\"0.0.0.0:8443\", \"[::1]:8444\"]\n"
    "  tls: { cert: cert.pem, key: key.pem }\n"
    "  max_body: 1MiB\n"
    "  max_header: 16KiB\n"
    "  max_connections: 10000\n"
    "  timeouts: { header: 10s, body: 30s, idle: 60s }\n"
    "admin: { listen: \"127.0.0.1:9090\" }\n"
    "spool: { path: hookd-spool.db, sync: full, retention: 7d }\n"
    "log: { level: info, format: json }\n"
    "plugin_dir: ./build/plugins\n"
    "dispatch: { workers: 8, queue: 5000 }\n"
    "\n"
    "sources:\n"
    "  - name: constantcontact\n"
    "    path: /webhooks/ctct\n"
    "    auth: { basic: { username: partner, password: \"${TEST_CTCT_PARTNER_PASSWORD}\" } }\n"
    "    verify: { scheme: ctct-hmac-sha256, secret: \"${TEST_CTCT_CLIENT_SECRET}\" }\n"
    "    event_type: /event_type\n"
    "    dedup: { key: none }\n"
    "    enrich: ctct-plan\n"
    "  - name: gh\n"
    "    path: /webhooks/github\n"
    "    verify: { scheme: github, secrets: [old, new] }\n"
    "    dedup: { key: \"header:X-GitHub-Delivery\", window: 2h }\n"
    "  - name: custom\n"
    "    path: /webhooks/custom\n"
    "    verify:\n"
    "      scheme: hmac\n"
    "      secret: k\n"
    "      header: X-Signature\n"
    "      algorithm: sha512\n"
    "      encoding: base64\n"
    "      prefix: \"sha512=\"\n"
    "      # no tolerance: hmac signs no timestamp hookd could check\n"
    "    event_type: \"header:X-Event\"\n"
    "    dedup: { key: \"pointer:/id\" }\n"
    "  - name: sw\n"
    "    path: /webhooks/sw\n"
    "    verify: { scheme: standard-webhooks, secret: whsec_YWJj, tolerance: 5m }\n"
    "    dedup: { key: body }\n"
    "\n"
    "plugins:\n"
    "  - name: audit\n"
    "    use: file\n"
    "    config: { path: events.jsonl }\n"
    "    concurrency: 4\n"
    "    timeout: 10s\n"
    "    retry: { attempts: 10, backoff: 1s, max_backoff: 10m }\n"
    "  - name: ops-mail\n"
    "    use: email\n"
    "    config: { url: \"smtp://127.0.0.1:2525\", from: \"hookd@example.com\",\n"
    "              to: [\"ops@example.com\"], subject: \"{{type}} for account {{ctct.account_id}}\" }\n"
    "  - name: local\n"
    "    use: ./x/custom.so\n"
    "    concurrency: 2\n"
    "    timeout: 1500ms\n"
    "    retry: { attempts: 3, backoff: 2s }\n"
    "\n"
    "routes:\n"
    "  - { match: [\"account.cancel\", \"account.disable\"], to: [ops-mail, audit] }\n"
    "  - { match: \"tier.*\", to: [audit] }\n"
    "  - { match: \"*\", source: constantcontact, to: [audit, audit] }\n"
    "ctct: { api: v2, api_key: key, username: partner, password: pw }\n";

/* Parses full_yaml with the variables it names set; full_done() frees it. */
static inline hookd_config *full_config(void)
{
    setenv("TEST_CTCT_PARTNER_PASSWORD", "pw!", 1);
    setenv("TEST_CTCT_CLIENT_SECRET", "s3cret", 1);
    return expect_ok(full_yaml);
}

static inline void full_done(hookd_config *c)
{
    hookd_config_free(c);
    unsetenv("TEST_CTCT_PARTNER_PASSWORD");
    unsetenv("TEST_CTCT_CLIENT_SECRET");
}

#endif
