/* Fixture plugin, broken on purpose: hookd_plugin_entry() returns NULL. */
#include <stddef.h>
#include <hookd/plugin.h>

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return NULL; }
