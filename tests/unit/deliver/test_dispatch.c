/* Unit tests for core/dispatch.c: the full-jitter back-off, and what the
 * worker pool decides after each attempt (retry, delivered, dead), as the
 * spool would record it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "deliver/dispatch.h"

/* ---------- back-off ---------- */

static void test_backoff_bounds(void **state)
{
    (void)state;
    /* Round k's cap is base * 2^(k-1), never above max; rnd picks in [0, cap]. */
    assert_int_equal(hookd_backoff_ms(1000, 600000, 1, 1000), 1000);
    assert_int_equal(hookd_backoff_ms(1000, 600000, 1, 1001), 0);
    assert_int_equal(hookd_backoff_ms(1000, 600000, 3, 4000), 4000);
    assert_int_equal(hookd_backoff_ms(1000, 600000, 3, 4001), 0);
    assert_int_equal(hookd_backoff_ms(1000, 5000, 10, 5000), 5000);
    assert_int_equal(hookd_backoff_ms(1000, 5000, 10, 5001), 0);
    /* A huge round neither overflows nor passes max. */
    for (uint64_t r = 0; r < 1000; r += 7)
        assert_true(hookd_backoff_ms(1000, 600000, 1000000, r * 0x9e3779b97f4a7c15ULL) <=
                    600000);
    /* Jitter spreads: many draws are not all the same. */
    int64_t first = hookd_backoff_ms(100, 1000, 4, 12345), differ = 0;
    for (uint64_t r = 1; r < 50; r++)
        differ += hookd_backoff_ms(100, 1000, 4, r * 2654435761u) != first;
    assert_true(differ > 40);
}

/* ---------- a plugin written in the test ---------- */

typedef struct script {
    int results[8];        /* what deliver returns, attempt by attempt */
    int64_t retry_after;   /* with RETRY */
    int calls;
    int attempts_seen[8];  /* ev->attempt as the plugin saw it */
} script;

static int t_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    script *s = instance;
    int i = s->calls++;
    s->attempts_seen[i] = ev->attempt;
    snprintf(st->reason, sizeof st->reason, "call %d", i + 1);
    if (s->results[i] == HOOKD_RETRY)
        st->retry_after_ms = s->retry_after;
    return s->results[i];
}

static const hookd_plugin t_plugin = {.name = "t", .deliver = t_deliver};

typedef struct sink {
    pthread_mutex_t lock;
    hookd_attempt got[8];
    char reasons[8][64];
    int n;
} sink;

static void t_sink(void *ud, const hookd_attempt *a)
{
    sink *k = ud;
    pthread_mutex_lock(&k->lock);
    if (k->n < 8) {
        k->got[k->n] = *a;
        snprintf(k->reasons[k->n], sizeof k->reasons[0], "%s", a->reason);
        k->n++;
    }
    pthread_mutex_unlock(&k->lock);
}

static int sink_count(sink *k)
{
    pthread_mutex_lock(&k->lock);
    int n = k->n;
    pthread_mutex_unlock(&k->lock);
    return n;
}

/* Runs one delivery through a one-worker pool until `want` attempts were
 * reported (or 5 s passed). */
static void run(script *s, int attempts, int64_t backoff, sink *k, int want)
{
    hookd_plugin_cfg pc = {.name = "t",
                           .concurrency = 1,
                           .timeout_ms = 1000,
                           .retry_attempts = attempts,
                           .retry_backoff_ms = backoff,
                           .retry_max_backoff_ms = backoff * 4};
    hookd_instance in = {.cfg = &pc, .plugin = &t_plugin, .inst = s, .initialised = 1};
    pthread_mutex_init(&k->lock, NULL);
    hookd_dispatch *d = hookd_dispatch_new(1);
    assert_non_null(d);
    hookd_dispatch_set_sink(d, t_sink, k);
    hookd_ev *ev = hookd_ev_new("src", "tier.increase", hookd_now_ms(), "{}", 2,
                                json_object(), NULL, NULL, 0);
    assert_non_null(ev);
    assert_int_equal(hookd_dispatch_submit(d, ev, &in, 42, 0, 0, 0), 0);
    hookd_ev_unref(ev);
    for (int i = 0; i < 500 && sink_count(k) < want; i++)
        usleep(10000);
    /* Nothing more than wanted arrives. */
    usleep(50000);
    assert_int_equal(hookd_dispatch_stop(d, 2000), 0);
    hookd_dispatch_free(d);
    pthread_mutex_destroy(&k->lock);
    assert_int_equal(k->n, want);
}

static void test_retry_then_delivered(void **state)
{
    (void)state;
    script s = {.results = {HOOKD_RETRY, HOOKD_RETRY, HOOKD_OK}, .retry_after = -1};
    sink k = {0};
    run(&s, 5, 20, &k, 3);
    const char *states[] = {"pending", "pending", "delivered"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(k.got[i].delivery, 42);
        assert_int_equal(k.got[i].n, i + 1);
        assert_string_equal(k.got[i].state, states[i]);
        assert_int_equal(s.attempts_seen[i], i + 1);
    }
    assert_string_equal(k.reasons[1], "call 2");
    /* The retry is due after the attempt, within the back-off cap. */
    for (int i = 0; i < 2; i++) {
        int64_t end = k.got[i].started_at + k.got[i].duration_ms;
        assert_true(k.got[i].next_at >= end);
        assert_true(k.got[i].next_at <= end + 20 * (1 << i));
        assert_true(k.got[i + 1].started_at >= k.got[i].next_at - 1);
    }
}

static void test_fail_is_dead_at_once(void **state)
{
    (void)state;
    script s = {.results = {HOOKD_FAIL, HOOKD_OK}};
    sink k = {0};
    run(&s, 5, 10, &k, 1);
    assert_string_equal(k.got[0].state, "dead");
    assert_int_equal(k.got[0].result, HOOKD_FAIL);
    assert_int_equal(s.calls, 1);
}

static void test_attempts_run_out(void **state)
{
    (void)state;
    script s = {.results = {HOOKD_RETRY, HOOKD_RETRY, HOOKD_RETRY, HOOKD_OK},
                .retry_after = -1};
    sink k = {0};
    run(&s, 3, 5, &k, 3);
    assert_string_equal(k.got[0].state, "pending");
    assert_string_equal(k.got[1].state, "pending");
    assert_string_equal(k.got[2].state, "dead");
    assert_int_equal(k.got[2].result, HOOKD_RETRY);
    assert_int_equal(s.calls, 3);
}

static void test_requested_delay_honoured(void **state)
{
    (void)state;
    /* The policy would allow at most 4 ms; the plugin asks for 150. */
    script s = {.results = {HOOKD_RETRY, HOOKD_OK}, .retry_after = 150};
    sink k = {0};
    run(&s, 5, 1, &k, 2);
    int64_t end = k.got[0].started_at + k.got[0].duration_ms;
    assert_int_equal(k.got[0].next_at - end, 150);
    assert_true(k.got[1].started_at >= end + 145);
    assert_string_equal(k.got[1].state, "delivered");
}

/* Paused (the spool cannot write results): a retry that falls due and a
 * new job both wait, without a worker spinning; resumed, both run. */
static void test_pause_holds_new_work(void **state)
{
    (void)state;
    script s = {.results = {HOOKD_RETRY, HOOKD_OK, HOOKD_OK}, .retry_after = 30};
    sink k = {0};
    hookd_plugin_cfg pc = {.name = "t", .concurrency = 1, .timeout_ms = 1000,
                           .retry_attempts = 5, .retry_backoff_ms = 30,
                           .retry_max_backoff_ms = 30};
    hookd_instance in = {.cfg = &pc, .plugin = &t_plugin, .inst = &s, .initialised = 1};
    pthread_mutex_init(&k.lock, NULL);
    hookd_dispatch *d = hookd_dispatch_new(1);
    assert_non_null(d);
    hookd_dispatch_set_sink(d, t_sink, &k);
    hookd_ev *ev = hookd_ev_new("src", "tier.increase", hookd_now_ms(), "{}", 2,
                                json_object(), NULL, NULL, 0);
    assert_non_null(ev);
    assert_int_equal(hookd_dispatch_submit(d, ev, &in, 1, 0, 0, 0), 0);
    for (int i = 0; i < 500 && sink_count(&k) < 1; i++)
        usleep(10000);
    assert_int_equal(sink_count(&k), 1); /* the first attempt asked for a retry */
    hookd_dispatch_pause(d, 1);
    assert_int_equal(hookd_dispatch_submit(d, ev, &in, 2, 0, 0, 0), 0);
    clock_t cpu = clock();
    usleep(200000); /* past the retry's 30 ms */
    assert_int_equal(sink_count(&k), 1);
    assert_int_equal(s.calls, 1);
    assert_true(clock() - cpu < CLOCKS_PER_SEC / 20); /* waited, did not spin */
    hookd_dispatch_pause(d, 0);
    for (int i = 0; i < 500 && sink_count(&k) < 3; i++)
        usleep(10000);
    assert_int_equal(sink_count(&k), 3);
    hookd_ev_unref(ev);
    assert_int_equal(hookd_dispatch_stop(d, 2000), 0);
    hookd_dispatch_free(d);
    pthread_mutex_destroy(&k.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_then_delivered),
        cmocka_unit_test(test_fail_is_dead_at_once),
        cmocka_unit_test(test_attempts_run_out),
        cmocka_unit_test(test_requested_delay_honoured),
        cmocka_unit_test(test_pause_holds_new_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
