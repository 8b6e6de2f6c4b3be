/* plugin_keys: a plugin's configuration keys as a table for people (`hookd
 * check`), read from its descriptor's config_keys (ABI 1.2). */
#ifndef HOOKD_PLUGIN_KEYS_H
#define HOOKD_PLUGIN_KEYS_H

#include <stdio.h>
#include <hookd/plugin.h>

/* The name of a HOOKD_CONFIG_* type as a configuration writes it. */
const char *hookd_config_type_name(const hookd_config_key *k);

/* One line per key, each line after indent: name, type, default (or "required"), description;
 * an ENUM's choices after its description. Returns the number of keys, or
 * -1 when the plugin has no table (built for ABI 1.1 or earlier, or none
 * given), after a line saying so. */
int hookd_plugin_keys_print(FILE *out, const hookd_plugin *p, const char *indent);

#endif
