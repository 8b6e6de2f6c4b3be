/* spool_file: see spool_file.h. */
#include "spool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

static void suffixed(char *out, size_t cap, const char *path, const char *suffix)
{
    snprintf(out, cap, "%s%s", path, suffix);
}

int hookd_spool_lock(const char *path, char *err, size_t errlen)
{
    char lock[4096];
    suffixed(lock, sizeof lock, path, ".lock");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "spool %s: cannot open %s: %s", path, lock, strerror(errno));
        return -1;
    }
    /* An open-file-description lock: released when the daemon exits however
     * it exits (kill -9 too), and not shared with exec'd children, whose
     * descriptors close on exec. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EAGAIN || e == EACCES)
            snprintf(err, errlen, "spool %s is in use by another hookd (pid %s): one daemon "
                     "per spool", path, pid[0] ? pid : "unknown");
        else
            snprintf(err, errlen, "spool %s: cannot lock %s: %s", path, lock, strerror(e));
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        hookd_log(HOOKD_LOG_WARN, "spool %s: cannot write the pid into %s: %s", path, lock,
                  strerror(errno));
    return fd;
}

void hookd_spool_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* the lock goes with the descriptor */
}

int hookd_spool_private(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    static const char *const suffix[] = {"", "-wal", "-shm", ".lock"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char p[4096];
        struct stat st;
        suffixed(p, sizeof p, path, suffix[i]);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0)
            continue;
        if (chmod(p, 0600) == 0)
            hookd_log(HOOKD_LOG_WARN, "spool file %s was mode %03o: narrowed to 600 (it holds "
                      "raw bodies and headers)", p, (unsigned)(st.st_mode & 0777));
        else
            hookd_log(HOOKD_LOG_WARN, "spool file %s is mode %03o and cannot be narrowed: %s", p,
                      (unsigned)(st.st_mode & 0777), strerror(errno));
    }
    return 0;
}
