/* spool_schema: the SQLite layout of the spool, shared by the daemon (which
 * creates it) and the inspection commands (which never do). Times are Unix
 * milliseconds. Bump HOOKD_SPOOL_SCHEMA when a table changes. */
#ifndef HOOKD_SPOOL_SCHEMA_H
#define HOOKD_SPOOL_SCHEMA_H

#define HOOKD_SPOOL_SCHEMA 2

/* events: one row per accepted request; body is the raw bytes as signed;
 * headers are the kept request headers as "name\0value\0" pairs (names
 * lower case, credentials removed).
 * deliveries: one row per (event, routed plugin instance). state is
 * 'pending', 'delivered' or 'dead'; attempts counts every attempt ever made;
 * round_start is attempts at the last replay (the retry budget counts from
 * it); next_at is when a pending delivery is due; reason is the last one;
 * claim is the run id of the daemon that holds the delivery in memory (NULL:
 * nobody; a daemon takes every pending row whose claim is not its own).
 * attempts: one row per attempt; result is 'ok', 'retry' or 'fail';
 * retry_at is when the next attempt was scheduled (NULL when none was).
 * dedup: the first event id seen for (source, key), and when.
 * events.enrichment (schema 2): the JSON attached before delivery (e.g.
 * {"ctct":{"account_id":..,"plan":{..}}}); NULL until fetched. */
#define HOOKD_SPOOL_SCHEMA_SQL                                                           \
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"          \
    "CREATE TABLE IF NOT EXISTS events("                                                 \
    " seq INTEGER PRIMARY KEY,"                                                          \
    " id TEXT NOT NULL UNIQUE,"                                                          \
    " source TEXT NOT NULL,"                                                             \
    " type TEXT NOT NULL,"                                                               \
    " received_at INTEGER NOT NULL,"                                                     \
    " body BLOB NOT NULL,"                                                               \
    " headers BLOB NOT NULL,"                                                            \
    " enrichment BLOB);"                                                                 \
    "CREATE INDEX IF NOT EXISTS events_received ON events(received_at);"                 \
    "CREATE TABLE IF NOT EXISTS deliveries("                                             \
    " id INTEGER PRIMARY KEY,"                                                           \
    " event INTEGER NOT NULL,"                                                           \
    " plugin TEXT NOT NULL,"                                                             \
    " state TEXT NOT NULL,"                                                              \
    " attempts INTEGER NOT NULL DEFAULT 0,"                                              \
    " round_start INTEGER NOT NULL DEFAULT 0,"                                           \
    " next_at INTEGER NOT NULL,"                                                         \
    " updated_at INTEGER NOT NULL,"                                                      \
    " reason TEXT,"                                                                      \
    " claim INTEGER);"                                                                   \
    "CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event);"                  \
    "CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(claim)"                 \
    " WHERE state = 'pending';"                                                          \
    "CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries(plugin)"                   \
    " WHERE state = 'dead';"                                                             \
    "CREATE TABLE IF NOT EXISTS attempts("                                               \
    " delivery INTEGER NOT NULL,"                                                        \
    " n INTEGER NOT NULL,"                                                               \
    " started_at INTEGER NOT NULL,"                                                      \
    " duration_ms INTEGER NOT NULL,"                                                     \
    " result TEXT NOT NULL,"                                                             \
    " reason TEXT,"                                                                      \
    " retry_at INTEGER,"                                                                 \
    " PRIMARY KEY(delivery, n)) WITHOUT ROWID;"                                          \
    "CREATE TABLE IF NOT EXISTS dedup("                                                  \
    " source TEXT NOT NULL,"                                                             \
    " key TEXT NOT NULL,"                                                                \
    " event TEXT NOT NULL,"                                                              \
    " at INTEGER NOT NULL,"                                                              \
    " PRIMARY KEY(source, key)) WITHOUT ROWID;"                                          \
    "CREATE INDEX IF NOT EXISTS dedup_at ON dedup(at);"

/* From schema 1 to 2, in one transaction. */
#define HOOKD_SPOOL_MIGRATE_1_2                                                          \
    "BEGIN IMMEDIATE; ALTER TABLE events ADD COLUMN enrichment BLOB;"                    \
    " UPDATE meta SET value = '2' WHERE key = 'schema'; COMMIT;"

#endif
