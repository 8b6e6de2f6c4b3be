/* loader: dlopen() plugins after checking the file, then the descriptor
 * against the ABI this daemon was built with. */
#include "loader.h"

#include "common/text.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef HOOKD_DEFAULT_PLUGIN_DIR
#define HOOKD_DEFAULT_PLUGIN_DIR "/usr/local/lib/hookd/plugins"
#endif

struct hookd_plugin_lib {
    char *path;                 /* as configured */
    int fd;                     /* what was checked and loaded (/proc/self/fd/N) */
    dev_t dev;                  /* identity of the file, for reuse */
    ino_t ino;
    void *handle;
    const hookd_plugin *desc;
    struct hookd_plugin_lib *next;
};

struct hookd_loader {
    char *plugin_dir;
    hookd_plugin_lib *libs;
};


static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

hookd_loader *hookd_loader_new(const char *plugin_dir)
{
    hookd_loader *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->plugin_dir = dup_str(plugin_dir && *plugin_dir ? plugin_dir
                                                      : HOOKD_DEFAULT_PLUGIN_DIR);
    if (!l->plugin_dir) {
        free(l);
        return NULL;
    }
    return l;
}

void hookd_loader_free(hookd_loader *l)
{
    if (!l)
        return;
    hookd_plugin_lib *lib = l->libs;
    while (lib) {
        hookd_plugin_lib *next = lib->next;
        dlclose(lib->handle);
        close(lib->fd);
        free(lib->path);
        free(lib);
        lib = next;
    }
    free(l->plugin_dir);
    free(l);
}

static int ends_with_so(const char *s)
{
    size_t n = strlen(s);
    return n > 3 && strcmp(s + n - 3, ".so") == 0;
}

/* The file to open for `use`, malloc'd; NULL with err set on refusal. */
static char *resolve(const hookd_loader *l, const char *use, char *err, size_t errlen)
{
    char *path;
    if (ends_with_so(use)) {
        /* Without a '/', dlopen() would search the library path instead. */
        int bare = strchr(use, '/') == NULL;
        size_t n = strlen(use) + (bare ? 2 : 0) + 1;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s%s", bare ? "./" : "", use);
    } else {
        if (!*use || strchr(use, '/') || use[0] == '.') {
            hookd_say(err, errlen,
                    "\"%s\": not a plugin name nor a path ending in \".so\"", use);
            return NULL;
        }
        size_t n = strlen(l->plugin_dir) + 1 + strlen(use) + 3 + 1;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s/%s.so", l->plugin_dir, use);
    }
    if (!path)
        hookd_say(err, errlen, "%s: out of memory", use);
    return path;
}

/* The file itself, before dlopen() runs any of its code (constructors):
 * opened once, without following a link, and checked on the descriptor, so
 * what is loaded (/proc/self/fd/N) is what was checked. Returns the
 * descriptor or -1 with err set. */
static int open_checked(const char *path, struct stat *st, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO would wait for a writer before fstat() refuses it;
     * O_NOCTTY: a daemon opening a tty would make it its terminal. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            hookd_say(err, errlen, "%s: plugin file not found", path);
        else if (e == ELOOP)
            hookd_say(err, errlen, "%s: refusing a symlink as a plugin file", path);
        else
            hookd_say(err, errlen, "%s: cannot open plugin file: %s", path, strerror(e));
        return -1;
    }
    const char *why = NULL;
    char buf[128];
    if (fstat(fd, st) != 0) {
        snprintf(buf, sizeof buf, "cannot stat plugin file: %s", strerror(errno));
        why = buf;
    } else if (!S_ISREG(st->st_mode)) {
        why = "plugin is not a regular file";
    } else if (st->st_mode & 022) {
        snprintf(buf, sizeof buf, "refusing a group- or world-writable plugin file (mode %04o)",
                 (unsigned)(st->st_mode & 07777));
        why = buf;
    } else if (st->st_uid != 0 && st->st_uid != geteuid()) {
        /* Whoever owns it can change what hookd runs. */
        snprintf(buf, sizeof buf, "refusing a plugin file owned by uid %u (only root or "
                 "hookd's own uid %u)", (unsigned)st->st_uid, (unsigned)geteuid());
        why = buf;
    }
    if (!why) {
        /* Whoever can write to the directory can swap the file for another. */
        char *dir = dup_str(path), *slash = dir ? strrchr(dir, '/') : NULL;
        struct stat ds;
        if (!dir) {
            why = "out of memory";
        } else {
            if (slash == dir)
                slash[1] = '\0';
            else if (slash)
                *slash = '\0';
            if (stat(slash ? dir : ".", &ds) != 0) {
                snprintf(buf, sizeof buf, "cannot stat the plugin directory: %s",
                         strerror(errno));
                why = buf;
            } else if (ds.st_mode & 022) {
                snprintf(buf, sizeof buf, "refusing a group- or world-writable plugin "
                         "directory (mode %04o)", (unsigned)(ds.st_mode & 07777));
                why = buf;
            }
        }
        free(dir);
    }
    if (why) {
        hookd_say(err, errlen, "%s: %s", path, why);
        close(fd);
        return -1;
    }
    return fd;
}

/* The descriptor, field by field, reading nothing the plugin may not have. */
static int check_desc(const hookd_plugin *d, const char *path, char *err, size_t errlen)
{
    if (d->abi_major != HOOKD_ABI_MAJOR) {
        hookd_say(err, errlen,
                "%s: plugin ABI major %u, this hookd supports major %u only", path,
                (unsigned)d->abi_major, (unsigned)HOOKD_ABI_MAJOR);
        return -1;
    }
    if (d->abi_minor > HOOKD_ABI_MINOR) {
        hookd_say(err, errlen,
                "%s: plugin ABI %u.%u is newer than this hookd's %u.%u", path,
                (unsigned)d->abi_major, (unsigned)d->abi_minor,
                (unsigned)HOOKD_ABI_MAJOR, (unsigned)HOOKD_ABI_MINOR);
        return -1;
    }
    /* A minor only grows the struct: a 1.0 or 1.1 plugin has the struct of
     * its day (no config_keys), a 1.2 one all of ours; members past the end
     * are read through HOOKD_PLUGIN_HAS. */
    size_t need = d->abi_minor >= 2 ? sizeof(hookd_plugin) : HOOKD_PLUGIN_SIZE_1_0;
    if (d->struct_size < need) {
        hookd_say(err, errlen,
                "%s: plugin descriptor is a short struct (struct_size %u, need at least %zu)",
                path, (unsigned)d->struct_size, need);
        return -1;
    }
    if (!d->signature || strcmp(d->signature, HOOKD_BUILD_SIGNATURE) != 0) {
        hookd_say(err, errlen,
                "%s: plugin build signature \"%s\" does not match \"%s\"", path,
                d->signature ? d->signature : "(null)", HOOKD_BUILD_SIGNATURE);
        return -1;
    }
    const char *missing = !d->name || !*d->name ? "name"
                          : !d->init            ? "init callback"
                          : !d->deliver         ? "deliver callback"
                          : !d->destroy         ? "destroy callback"
                                                : NULL;
    if (missing) {
        hookd_say(err, errlen, "%s: plugin descriptor has no %s", path, missing);
        return -1;
    }
    return 0;
}

const hookd_plugin *hookd_loader_open(hookd_loader *l, const char *use,
                                      char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!l || !use) {
        hookd_say(err, errlen, "no plugin given");
        return NULL;
    }
    char *path = resolve(l, use, err, errlen);
    if (!path)
        return NULL;

    struct stat st;
    int fd = open_checked(path, &st, err, errlen);
    if (fd < 0)
        goto fail;

    /* The same file (by device and inode, whatever the spelling) is reused. */
    for (hookd_plugin_lib *lib = l->libs; lib; lib = lib->next) {
        if (lib->dev == st.st_dev && lib->ino == st.st_ino) {
            close(fd);
            free(path);
            return lib->desc;
        }
    }

    /* The descriptor stays open while the library is loaded: glibc knows a
     * loaded object by its name, and /proc/self/fd/N must not name two. */
    char via[64];
    snprintf(via, sizeof via, "/proc/self/fd/%d", fd);
    dlerror();
    void *h = dlopen(via, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        hookd_say(err, errlen, "%s: dlopen failed: %s", path, why ? why : "unknown error");
        close(fd);
        goto fail;
    }

    dlerror();
    void *sym = dlsym(h, HOOKD_PLUGIN_ENTRY);
    if (!sym) {
        hookd_say(err, errlen, "%s: not a hookd plugin (no %s symbol)", path,
                HOOKD_PLUGIN_ENTRY);
        goto fail_close;
    }
    hookd_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const hookd_plugin *d = entry();
    if (!d) {
        hookd_say(err, errlen, "%s: %s() returned NULL", path, HOOKD_PLUGIN_ENTRY);
        goto fail_close;
    }
    if (check_desc(d, path, err, errlen) != 0)
        goto fail_close;

    for (hookd_plugin_lib *lib = l->libs; lib; lib = lib->next) {
        if (strcmp(lib->desc->name, d->name) == 0) {
            hookd_say(err, errlen,
                    "%s: duplicate plugin name \"%s\", already loaded from %s", path,
                    d->name, lib->path);
            goto fail_close;
        }
    }

    hookd_plugin_lib *lib = calloc(1, sizeof *lib);
    if (!lib) {
        hookd_say(err, errlen, "%s: out of memory", path);
        goto fail_close;
    }
    lib->path = path;
    lib->fd = fd;
    lib->dev = st.st_dev;
    lib->ino = st.st_ino;
    lib->handle = h;
    lib->desc = d;
    lib->next = l->libs;
    l->libs = lib;
    return d;

fail_close:
    dlclose(h);
    close(fd);
fail:
    free(path);
    return NULL;
}
