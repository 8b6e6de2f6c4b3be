/* hookd — version of the daemon and of the plugin ABI. */
#ifndef HOOKD_VERSION_H
#define HOOKD_VERSION_H

#define HOOKD_VERSION_MAJOR 0
#define HOOKD_VERSION_MINOR 1
#define HOOKD_VERSION_PATCH 0
#define HOOKD_VERSION_STRING "0.1.0"

/* The plugin ABI. A loader refuses another major and a newer minor.
 * 1.1: hookd_api.sign. 1.2: hookd_plugin.config_keys. */
#define HOOKD_ABI_MAJOR 1
#define HOOKD_ABI_MINOR 2

#endif
