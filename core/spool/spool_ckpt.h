/* spool_ckpt: WAL checkpoints on a thread of their own, so the spool writer
 * (and the answers waiting on its commits) never stalls copying the WAL
 * into the database and syncing it. */
#ifndef HOOKD_SPOOL_CKPT_H
#define HOOKD_SPOOL_CKPT_H

#include <sqlite3.h>

typedef struct hookd_ckpt hookd_ckpt;

/* Takes over checkpointing of `writer` (a WAL connection to `path`): a
 * second connection checkpoints once the WAL passes ~4 MB. NULL when that
 * cannot be set up: SQLite's own autocheckpoint then stays in place. */
hookd_ckpt *hookd_ckpt_start(sqlite3 *writer, const char *path, int sync_full);

/* Stops the thread and closes its connection; call once the writer is done. */
void hookd_ckpt_stop(hookd_ckpt *k);

#endif
