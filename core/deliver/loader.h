/* loader: opens plugin shared objects and checks them against the ABI before
 * anything of theirs runs beyond hookd_plugin_entry(). Main thread only. */
#ifndef HOOKD_LOADER_H
#define HOOKD_LOADER_H

#include <stddef.h>
#include <hookd/plugin.h>

/* One opened shared object: its path, dlopen handle and descriptor. */
typedef struct hookd_plugin_lib hookd_plugin_lib;
/* Every library opened so far: for reuse and duplicate-name checks. */
typedef struct hookd_loader hookd_loader;

/* plugin_dir: where plugin names are looked up; NULL means the built-in
 * default. Returns NULL on no memory. */
hookd_loader *hookd_loader_new(const char *plugin_dir);

/* use: a plugin name ("file" → plugin_dir/file.so) or a path ending in ".so"
 * (a relative path is taken relative to the working directory). The same
 * file opened twice gives the same descriptor. On refusal returns NULL with a
 * one-line message naming the file in err. The descriptor stays valid until
 * hookd_loader_free(). */
const hookd_plugin *hookd_loader_open(hookd_loader *l, const char *use,
                                      char *err, size_t errlen);

/* dlclose()s every library; every instance must have been destroyed. */
void hookd_loader_free(hookd_loader *l);

#endif
