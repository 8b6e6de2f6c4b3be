/* Which configuration to read: -c FILE, ./hookd.yaml, /etc/hookd/hookd.yaml,
 * else the one built in (docs/DESIGN.md §4): plain HTTP on 127.0.0.1:8080,
 * the admin listener and its console on 127.0.0.1:9090 (loopback: no token
 * needed), the Constant Contact source, every event appended to a
 * JSON-lines file.
 * Set CTCT_CLIENT_SECRET before exposing it to anything. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

const char hookd_default_config[] =
    "# hookd built-in default configuration\n"
    "server:\n"
    "  listen: \"127.0.0.1:8080\"\n"
    "admin:\n"
    "  listen: \"127.0.0.1:9090\"\n"
    "spool:\n"
    "  path: hookd-spool.db\n"
    "log:\n"
    "  format: text\n"
    "sources:\n"
    "  - name: constantcontact\n"
    "    path: /webhooks/ctct\n"
    "    verify: { scheme: ctct-hmac-sha256, secret: "
    "\"${CTCT_CLIENT_SECRET:-change-me}\" }\n"
    "    event_type: /event_type\n"
    "plugins:\n"
    "  - name: audit\n"
    "    use: file\n"
    "    config: { path: hookd-events.jsonl }\n"
    "routes:\n"
    "  - { match: \"*\", to: [audit] }\n";

hookd_config *hookd_config_find(const char *path, int *embedded, char *err, size_t errlen)
{
    struct stat st;
    *embedded = 0;
    if (path)
        return hookd_config_load(path, err, errlen);
    if (stat("hookd.yaml", &st) == 0)
        return hookd_config_load("hookd.yaml", err, errlen);
    if (stat("/etc/hookd/hookd.yaml", &st) == 0)
        return hookd_config_load("/etc/hookd/hookd.yaml", err, errlen);
    *embedded = 1;
    return hookd_config_parse("(embedded default)", hookd_default_config,
                              strlen(hookd_default_config), err, errlen);
}
