/* curl_answer: one collector of an HTTP answer for every libcurl client of
 * hookd (the Constant Contact client, `hookd send`, the key set reader, the
 * forward plugin): the status, the body up to a bound, the final answer's
 * header lines if asked for, its reason phrase and Retry-After, and curl's
 * error text. hookd_curl_setup (curl_opts.h) hands it to libcurl. */
#ifndef HOOKD_COMMON_CURL_ANSWER_H
#define HOOKD_COMMON_CURL_ANSWER_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct hookd_curl_answer {
    /* Set by the caller; hookd_curl_answer_clear keeps them. */
    size_t max_body;     /* body bytes kept */
    size_t max_head;     /* header bytes kept (status line and header lines as
                            received, CRLFs kept); 0: none */
    int drain;           /* past max_body: read on and drop the rest, so the
                            connection stays usable; otherwise the transfer
                            stops (CURLE_WRITE_ERROR) */
    /* Filled: only the final answer's (after 1xx or a followed redirect). */
    long status;         /* by hookd_curl_perform */
    char *body;          /* NUL-terminated; NULL while empty */
    size_t len, cap;
    char *head;          /* NUL-terminated; NULL while empty */
    size_t hlen, hcap;
    int over;            /* the body or the headers went past their bound */
    char phrase[64];     /* the status line's reason phrase */
    char retry_after[64];
    char error[CURL_ERROR_SIZE]; /* curl's own words for a failure */
} hookd_curl_answer;

/* Frees and forgets what was collected; the bounds stay. */
void hookd_curl_answer_clear(hookd_curl_answer *a);

/* libcurl's write and header callbacks, with the answer as their data. */
size_t hookd_curl_answer_body(char *p, size_t size, size_t n, void *answer);
size_t hookd_curl_answer_header(char *p, size_t size, size_t n, void *answer);

/* Why cc failed: curl's error text if it wrote one, else its code's name. */
const char *hookd_curl_answer_error(const hookd_curl_answer *a, CURLcode cc);

#endif
