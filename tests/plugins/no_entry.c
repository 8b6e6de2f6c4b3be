/* Fixture plugin, broken on purpose: a shared object that exports a function,
 * but not hookd_plugin_entry. */
#include <hookd/plugin.h>

HOOKD_EXPORT int not_a_hookd_plugin(void) { return 42; }
