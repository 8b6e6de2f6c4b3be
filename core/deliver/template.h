/* Templates and event helpers offered to plugins through hookd_api.
 *
 * Syntax: literal text with {{name}} placeholders (blanks inside the braces
 * are ignored). Names:
 *   type, id, source, received_at (ISO 8601 UTC, ms), attempt, body (raw),
 *   json./pointer     RFC 6901 pointer into the parsed body; strings render
 *                     as their value, anything else as compact JSON
 *   header.Name       a kept request header (case-insensitive)
 *   ctct.account_id   the account id in the body's "url"
 *   ctct.plan.FIELD   enrichment /ctct/plan/FIELD
 * A missing value renders empty. In a run of three or more '{' the last two
 * open the placeholder ("{{{type}}}" is "{" + type + "}").
 *
 * A compiled template is immutable: render it from any number of threads.
 */
#ifndef HOOKD_TEMPLATE_H
#define HOOKD_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <hookd/plugin.h>

#define HOOKD_TEMPLATE_MAX_SRC (64u * 1024u)    /* source bytes */
#define HOOKD_TEMPLATE_MAX_PH 256u              /* placeholders */
#define HOOKD_TEMPLATE_MAX_OUT (1024u * 1024u)  /* rendered bytes, then cut */

/* NULL with a one-line message in err (if err) on a bad template or no
 * memory, e.g. "unknown template name \"foo\" at offset 7". */
hookd_template *hookd_template_compile(const char *src, char *err, size_t errlen);

/* A malloc'd NUL-terminated string; NULL on no memory only. Values (never the
 * literal text) are escaped with escape, one of HOOKD_ESC_* (another value
 * is taken as HOOKD_ESC_PLAIN). Output beyond HOOKD_TEMPLATE_MAX_OUT bytes is
 * dropped, never cutting a UTF-8 character or an escape sequence. */
char *hookd_template_render(const hookd_template *t, const hookd_event *ev,
                            int escape);
void hookd_template_free(hookd_template *t);

/* {"id","source","type","received_at","attempt","body"[,"enrichment"]}: body
 * is a deep copy of ev->json (null if none), received_at ISO 8601, and
 * enrichment is there when the event has one. A new reference; NULL on
 * no memory. */
json_t *hookd_event_json(const hookd_event *ev);

/* Case-insensitive look-up of a kept request header; NULL if absent. */
const char *hookd_event_header(const hookd_event *ev, const char *name);




#endif
