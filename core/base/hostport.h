/* hostport: THE grammar of a listen address, shared by the configuration
 * check and the listeners: "host:port" (the host without ':', space, '/',
 * '[' or ']': an IPv4 address or a name) or "[v6]:port" (the brackets hold
 * an IPv6 address: at least one ':'), the port 1 to 5 digits, 0..65535. */
#ifndef HOOKD_HOSTPORT_H
#define HOOKD_HOSTPORT_H

#include <stddef.h>

/* Splits s into host (NUL-terminated, without brackets; a ':' in it means
 * IPv6) and port. 0, or -1 when s is not of the grammar or the host does
 * not fit hostlen bytes. host and port may be NULL to only check. */
int hookd_hostport_parse(const char *s, char *host, size_t hostlen, int *port);

#endif
