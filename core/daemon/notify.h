/* sd_notify(3) without libsystemd: one datagram per state change to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract
 * namespace). Without NOTIFY_SOCKET every call does nothing and returns 0. */
#ifndef HOOKD_NOTIFY_H
#define HOOKD_NOTIFY_H

/* Sends `state` ("READY=1\nSTATUS=..."). Returns 1 when sent, 0 when there
 * is no NOTIFY_SOCKET, a negative errno on failure (never fatal). */
int hookd_notify(const char *state);

/* READY=1 and STATUS=<status> (status may be NULL). */
int hookd_notify_ready(const char *status);

/* STOPPING=1: the service manager sees the stop begin. */
int hookd_notify_stopping(void);

/* RELOADING=1 and MONOTONIC_USEC=<now> (systemd >= 253 wants both); send
 * READY=1 again when the reload is over. For the SIGHUP reload. */
int hookd_notify_reloading(void);

#endif
