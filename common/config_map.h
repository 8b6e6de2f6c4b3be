/* config_map: a plugin's config: block read by a table of keys, the way
 * Fluent Bit's config_map and nginx's ngx_command_t do it. Each row
 * (hookd_config_key, include/hookd/plugin.h) names a key, its type, its
 * default (written as in a configuration, and read by the same reader), and
 * where the value goes (offsetof into the plugin's settings struct). The same
 * table is the descriptor's config_keys, so `hookd check` can list it.
 *
 * Where each type goes:
 *   STRING, TEMPLATE, FILE   char *            (malloc'd; NULL if absent)
 *   BOOL                     int
 *   INT, DURATION, SIZE      int64_t           (DURATION in ms, SIZE in bytes)
 *   ENUM                     int               (index into choices)
 *   LIST                     hookd_cmap_list   (malloc'd strings)
 *   MAP, JSON                const json_t *    (borrowed from the config:
 *                                              valid during init() only)
 * Compiled into each plugin that uses it (hidden). */
#ifndef HOOKD_COMMON_CONFIG_MAP_H
#define HOOKD_COMMON_CONFIG_MAP_H

#include <stddef.h>
#include <hookd/plugin.h>

typedef struct hookd_cmap_list {
    char **v;   /* n strings, then NULL */
    size_t n;
} hookd_cmap_list;

/* Reads config (an object) into settings: a key not in the table is refused,
 * a missing one gets its default (or is refused if REQUIRED). prefix names
 * the block in messages ("sign" gives "sign.secret: ..."), NULL or "" for the
 * top. Returns 0, or HOOKD_EINVAL / HOOKD_ENOMEM with a one-line message that
 * names the key in err. On failure what was read stays in settings, for
 * hookd_cmap_free. */
int hookd_cmap_read(const hookd_config_key *table, const char *prefix, const json_t *config,
                    void *settings, char *err, size_t errlen);

/* Frees what hookd_cmap_read stored (SECRET strings wiped first); settings
 * may be partly read. */
void hookd_cmap_free(const hookd_config_key *table, void *settings);

/* The row of table named name, or NULL. */
const hookd_config_key *hookd_cmap_find(const hookd_config_key *table, const char *name);

/* "expected A, B or C" for an ENUM row's choices, into buf. */
void hookd_cmap_choices(const hookd_config_key *row, char *buf, size_t len);

#endif
