/* units: sizes and durations (docs/DESIGN.md §3). */
#ifndef HOOKD_UNITS_H
#define HOOKD_UNITS_H

#include <stdint.h>

/* "10s" -> 10000 (ms, s, m, h, d); -1 on error, a bare number included. */
int64_t hookd_parse_duration(const char *s);
/* "1MiB" -> 1048576 (B, KiB, MiB, GiB; a bare number is bytes); -1 on error. */
int64_t hookd_parse_size(const char *s);

#endif
