/* mark: where a value stood in a file, for error messages. */
#ifndef HOOKD_MARK_H
#define HOOKD_MARK_H

/* 1-based line and column. */
typedef struct hookd_mark {
    int line;
    int col;
} hookd_mark;

#endif
