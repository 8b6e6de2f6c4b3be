/* http_answer: what a libcurl client reads of an HTTP answer's headers,
 * shared by the core's Constant Contact client and the forward plugin (each
 * compiles its own copy; they link libcurl anyway). */
#ifndef HOOKD_COMMON_HTTP_ANSWER_H
#define HOOKD_COMMON_HTTP_ANSWER_H

#include <stddef.h>
#include <stdint.h>

/* The longest Retry-After taken; the core caps it further per instance. */
#define HOOKD_MAX_RETRY_AFTER_MS (7LL * 86400 * 1000)

/* Copies a header line's value (p, len: what follows "Name:") into dst,
 * without the blanks around it and the line end; truncated to dstlen - 1. */
void hookd_header_value(const char *p, size_t len, char *dst, size_t dstlen);

/* Retry-After (delay-seconds or an HTTP date) in ms from now, capped at
 * HOOKD_MAX_RETRY_AFTER_MS; 0 for a date past; -1 if empty or malformed. */
int64_t hookd_retry_after_ms(const char *v);

#endif
