/* The sd_notify datagram protocol, in a few lines: see notify.h. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int hookd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path || !state)
        return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (path[0] != '/' && path[0] != '@')
        return -EAFNOSUPPORT;   /* e.g. vsock:..., which we do not speak */
    if (len > sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, len);
    socklen_t salen;
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';  /* abstract: no terminating NUL counted */
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        if (len == sizeof sa.sun_path)
            return -ENAMETOOLONG;
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    while (n < 0 && errno == EINTR);
    int rc = n < 0 ? -errno : 1;
    close(fd);
    return rc;
}

int hookd_notify_ready(const char *status)
{
    char msg[512];
    if (!status)
        return hookd_notify("READY=1");
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    /* STATUS is one line. */
    for (char *p = msg + sizeof "READY=1\nSTATUS=" - 1; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return hookd_notify(msg);
}

int hookd_notify_stopping(void)
{
    return hookd_notify("STOPPING=1\nSTATUS=stopping");
}

int hookd_notify_reloading(void)
{
    struct timespec ts;
    char msg[128];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof msg, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
    return hookd_notify(msg);
}
