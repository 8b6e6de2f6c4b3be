/* spool_vfs: the SQLite VFS the spool writer opens its database with. It is
 * the default (unix) VFS, except that a WAL file's writes are gathered and
 * handed to the kernel once per commit instead of twice per frame. */
#ifndef HOOKD_SPOOL_VFS_H
#define HOOKD_SPOOL_VFS_H

#define HOOKD_SPOOL_VFS "hookd-spool"

/* Registers HOOKD_SPOOL_VFS (once; any thread). SQLITE_OK or an SQLite
 * error code. */
int hookd_spool_vfs_register(void);

#endif
