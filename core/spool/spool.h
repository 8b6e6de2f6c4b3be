/* spool: the durable store between the receive path and the plugins. One
 * writer thread owns the store (through the driver spool.driver names:
 * spool_driver.h) and commits whatever arrived since its last commit in one
 * transaction (group commit), so the loop thread never waits on the disk and
 * throughput does not fall to one fsync per request. */
#ifndef HOOKD_SPOOL_H
#define HOOKD_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "deliver/dispatch.h"
#include "deliver/event.h"
#include "deliver/runtime.h"

typedef struct hookd_spool hookd_spool;

enum { HOOKD_SPOOL_STORED = 0, HOOKD_SPOOL_DUPLICATE = 1 };

/* One accepted request on its way to the disk. The caller fills the inputs,
 * hookd_spool_append() queues it, and `done` runs on the loop thread once the
 * transaction holding it has committed or failed. */
typedef struct hookd_append {
    struct hookd_append *next;
    /* inputs */
    hookd_ev *ev;                   /* the append holds a reference */
    hookd_runtime *rt;              /* the runtime of `to`: a reference, or NULL */
    hookd_instance **to;            /* routed instances; nto of them (in this block) */
    size_t nto;
    int has_key;                    /* dedup: key is a SHA-256 hex of the key material */
    char key[65];
    int64_t window_ms;
    void (*done)(struct hookd_append *a);
    void *ud;
    void *owner;
    char peer[64];                  /* for the log line */
    /* outputs */
    int result;                     /* HOOKD_SPOOL_STORED, _DUPLICATE, or < 0 */
    char first_id[HOOKD_ID_LEN + 1];/* the earlier event when a duplicate */
    const char *why;                /* when result < 0: what the spool could not do */
    int64_t *delivery;              /* nto row ids when stored (in this block) */
    hookd_job_list *jobs;           /* during done(): stage deliveries here */
} hookd_append;

/* One allocation holding the append and its two arrays; takes over the
 * caller's reference to ev (on failure too: then NULL, ev untouched). */
hookd_append *hookd_append_new(hookd_ev *ev, hookd_instance *const *to, size_t nto);
void hookd_append_free(hookd_append *a); /* drops ev's and rt's references */

/* Opens (and creates) the spool at rt->cfg->spool_path, starts the writer and
 * takes every pending delivery left by an earlier run into `d`. NULL with a
 * one-line reason in err on failure. */
hookd_spool *hookd_spool_open(uv_loop_t *loop, hookd_runtime *rt, hookd_dispatch *d,
                              char *err, size_t errlen);

/* Loop thread. Takes ownership of a (freed after done() returns). The writer
 * gets what was appended once per loop iteration, after the I/O callbacks. */
void hookd_spool_append(hookd_spool *sp, hookd_append *a);

/* Appends queued or being committed. */
size_t hookd_spool_waiting(hookd_spool *sp);

/* 1 while the last commit failed (the spool answers 503), else 0. Any thread. */
int hookd_spool_failing(hookd_spool *sp);

/* The dispatcher's sink: records one attempt (any thread). */
void hookd_spool_record(void *sp, const hookd_attempt *a);

/* Keeps ev's enrichment with the event (any thread), so a retry or a restart
 * does not fetch it again. */
void hookd_spool_enriched(hookd_spool *sp, const hookd_ev *ev);

/* A reload: the recovery poll, enrichment and retention use rt from now on
 * (the spool takes a reference and drops the old one's). Any thread. */
void hookd_spool_set_runtime(hookd_spool *sp, hookd_runtime *rt);

/* Loop thread, once no append is outstanding: releases the loop handle. */
void hookd_spool_detach(hookd_spool *sp);

/* After the dispatcher stopped: writes what is left, checkpoints, closes. */
void hookd_spool_close(hookd_spool *sp);

#endif
