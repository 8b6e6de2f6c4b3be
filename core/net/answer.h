/* answer: what an HTTP answer of hookd holds, the reason phrases of its
 * status codes, and the JSON error body; the webhook listeners (server.c)
 * and the admin listener (admin.c) share them. */
#ifndef HOOKD_ANSWER_H
#define HOOKD_ANSWER_H

#include <stddef.h>

typedef struct hookd_response {
    int status;
    const char *headers;              /* extra lines, each ending "\r\n"; may be NULL */
    char body[512];                   /* JSON */
    size_t body_len;
    int close;                        /* close the connection after this answer */
    int source;                       /* for metrics: source index + 1; 0 = none */
} hookd_response;

/* Fills resp with status and {"error": msg} (msg is JSON-escaped). */
void hookd_response_error(hookd_response *resp, int status, const char *msg);

/* The reason phrase of a status hookd answers with ("Unknown" for others). */
const char *hookd_http_reason(int status);

#endif
