/* spool_file: the spool's files on disk, apart from SQLite's own work: one
 * daemon per spool (a lock held for the daemon's lifetime), and modes that
 * keep the raw bodies and headers the spool holds private. */
#ifndef HOOKD_SPOOL_FILE_H
#define HOOKD_SPOOL_FILE_H

#include <stddef.h>

/* Takes the lock of the spool at `path` (the file "<path>.lock", which then
 * holds this process's pid). Returns its descriptor, to keep open as long
 * as the daemon runs, or -1 with one line in err naming the spool and, when
 * another daemon holds it, that daemon's pid. The CLI's commands take no
 * lock: they work beside a running daemon. */
int hookd_spool_lock(const char *path, char *err, size_t errlen);
void hookd_spool_unlock(int fd);

/* Creates the spool file 0600 when it does not exist (SQLite gives its
 * -wal and -shm the mode of the database), and narrows the database, -wal,
 * -shm and lock files to 0600 when they allow more (logged). 0 or -1 with
 * why in err. */
int hookd_spool_private(const char *path, char *err, size_t errlen);

#endif
