/* table: JSON rows printed as a table for a terminal (hookd events, dead,
 * ctct topics): one copy of the cell text and the column widths. */
#ifndef HOOKD_CLI_TABLE_H
#define HOOKD_CLI_TABLE_H

#include <stdio.h>
#include <jansson.h>

#define HOOKD_CLI_CELL_MAX 600 /* a text cell longer than this is cut */

typedef struct hookd_cli_column {
    const char *title, *key; /* ended by a NULL title */
} hookd_cli_column;

/* One value as text: a string with control characters made '?' (the text
 * comes from senders and the network: the terminal must not act on it), an
 * integer, yes/no, an object of counts as "key n ...", "-" for anything
 * else (null, missing, ""). Returns buf. */
const char *hookd_cli_cell(const json_t *v, char buf[HOOKD_CLI_CELL_MAX]);

/* Columns on a terminal: UTF-8 continuation bytes take no room. */
size_t hookd_cli_width(const char *s);

/* A header line of the titles, then one line per row, each column as wide
 * as its widest cell (the last not padded); `empty` alone when no rows. */
void hookd_cli_table(FILE *out, const json_t *rows, const hookd_cli_column *cols,
                     const char *empty);

#endif
