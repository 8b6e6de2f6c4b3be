/* The configuration used when no file exists (docs/DESIGN.md §4): plain HTTP on
 * 127.0.0.1:8080, the Constant Contact source, every event appended to a
 * JSON-lines file. Set CTCT_CLIENT_SECRET before exposing it to anything. */
#include "config.h"

const char hookd_default_config[] =
    "# hookd built-in default configuration\n"
    "server:\n"
    "  listen: \"127.0.0.1:8080\"\n"
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
