/* table: see table.h. */
#include "table.h"

#include <string.h>

#define MAX_COLS 16

const char *hookd_cli_cell(const json_t *v, char buf[HOOKD_CLI_CELL_MAX])
{
    const char *k;
    json_t *x;
    size_t n = 0;
    snprintf(buf, HOOKD_CLI_CELL_MAX, "-");
    if (json_is_string(v) && json_string_length(v)) {
        snprintf(buf, HOOKD_CLI_CELL_MAX, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, HOOKD_CLI_CELL_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, HOOKD_CLI_CELL_MAX, "%s", json_is_true(v) ? "yes" : "no");
    } else if (json_is_object(v) && json_object_size(v)) {
        json_object_foreach((json_t *)v, k, x) {
            if (n >= HOOKD_CLI_CELL_MAX)
                break;
            n += (size_t)snprintf(buf + n, HOOKD_CLI_CELL_MAX - n, "%s%s %" JSON_INTEGER_FORMAT,
                                  n ? " " : "", k, json_integer_value(x));
        }
    }
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return buf;
}

size_t hookd_cli_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* One line; row NULL: the titles. */
static void line(FILE *out, const json_t *row, const hookd_cli_column *cols, const size_t *w)
{
    char buf[HOOKD_CLI_CELL_MAX];
    for (size_t c = 0; cols[c].title; c++) {
        const char *t =
            row ? hookd_cli_cell(json_object_get(row, cols[c].key), buf) : cols[c].title;
        fputs(t, out);
        if (cols[c + 1].title)
            fprintf(out, "%*s", (int)(w[c] - hookd_cli_width(t) + 2), "");
    }
    fputc('\n', out);
}

void hookd_cli_table(FILE *out, const json_t *rows, const hookd_cli_column *cols,
                     const char *empty)
{
    size_t w[MAX_COLS], i;
    json_t *row;
    char buf[HOOKD_CLI_CELL_MAX];
    if (json_array_size(rows) == 0) {
        fprintf(out, "%s\n", empty);
        return;
    }
    for (size_t c = 0; cols[c].title && c < MAX_COLS; c++)
        w[c] = hookd_cli_width(cols[c].title);
    json_array_foreach(rows, i, row)
        for (size_t c = 0; cols[c].title && c < MAX_COLS; c++) {
            size_t cw = hookd_cli_width(hookd_cli_cell(json_object_get(row, cols[c].key), buf));
            w[c] = cw > w[c] ? cw : w[c];
        }
    line(out, NULL, cols, w);
    json_array_foreach(rows, i, row)
        line(out, row, cols, w);
}
