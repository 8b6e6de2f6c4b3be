/* units: the one grammar of sizes and durations, for the core's
 * configuration, the command line and the plugins alike (docs/DESIGN.md §3):
 * decimal digits and a unit, nothing else. */
#include "units.h"

#include <stdint.h>
#include <string.h>

/* ---- sizes and durations ------------------------------------------------- */

/* Leading decimal digits of *s into *v (no sign); -1 if none or overflow. */
static int leading_number(const char **s, int64_t *v)
{
    const char *p = *s;
    int64_t x = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (x > (INT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *s = p;
    *v = x;
    return 0;
}

static int64_t scaled(const char *s, const char *const *units,
                      const int64_t *mult)
{
    int64_t v;
    if (!s || leading_number(&s, &v) < 0)
        return -1;
    for (size_t i = 0; units[i]; i++)
        if (strcmp(s, units[i]) == 0)
            return v > INT64_MAX / mult[i] ? -1 : v * mult[i];
    return -1;
}

int64_t hookd_parse_duration(const char *s)
{
    static const char *const units[] = {"ms", "s", "m", "h", "d", NULL};
    static const int64_t mult[] = {1, 1000, 60000, 3600000, 86400000LL};
    return scaled(s, units, mult);
}

int64_t hookd_parse_size(const char *s)
{
    static const char *const units[] = {"", "B", "KiB", "MiB", "GiB", NULL};
    static const int64_t mult[] = {1, 1, 1LL << 10, 1LL << 20, 1LL << 30};
    return scaled(s, units, mult);
}

