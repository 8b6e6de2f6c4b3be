/* curl_answer: see curl_answer.h. */
#include "curl_answer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_answer.h"

void hookd_curl_answer_clear(hookd_curl_answer *a)
{
    size_t max_body = a->max_body, max_head = a->max_head;
    int drain = a->drain;
    free(a->body);
    free(a->head);
    memset(a, 0, sizeof *a);
    a->max_body = max_body;
    a->max_head = max_head;
    a->drain = drain;
}

/* Room for need bytes in *buf (need - 1 at most limit); -1 if no memory. */
static int reserve(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    if (nc > limit + 1)
        nc = limit + 1;
    char *nb = realloc(*buf, nc);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

/* Appends what fits of p under limit; 1 if all of it did. */
static int append(char **buf, size_t *len, size_t *cap, size_t limit, const char *p, size_t n,
                  int *nomem)
{
    size_t k = n < limit - *len ? n : limit - *len;
    if (k > 0) {
        if (reserve(buf, cap, *len + k + 1, limit) < 0) {
            *nomem = 1;
            return 0;
        }
        memcpy(*buf + *len, p, k);
        *len += k;
        (*buf)[*len] = '\0';
    }
    return k == n;
}

size_t hookd_curl_answer_body(char *p, size_t size, size_t n, void *answer)
{
    hookd_curl_answer *a = answer;
    size_t len = size * n;
    int nomem = 0;
    if (append(&a->body, &a->len, &a->cap, a->max_body, p, len, &nomem))
        return len;
    if (!nomem)
        a->over = 1;
    return a->drain ? len : 0; /* 0: curl stops with CURLE_WRITE_ERROR */
}

size_t hookd_curl_answer_header(char *p, size_t size, size_t n, void *answer)
{
    hookd_curl_answer *a = answer;
    size_t len = size * n;
    if (len > 5 && !memcmp(p, "HTTP/", 5)) {
        /* A new answer (after a 1xx or a redirect): forget the last one's. */
        a->retry_after[0] = '\0';
        a->len = a->hlen = 0;
        if (a->body)
            a->body[0] = '\0';
        if (a->head)
            a->head[0] = '\0';
        const char *sp = memchr(p, ' ', len);                                  /* before the code */
        sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - p)) : NULL;      /* after it */
        a->phrase[0] = '\0';
        if (sp)
            hookd_header_value(sp + 1, len - (size_t)(sp + 1 - p), a->phrase, sizeof a->phrase);
    } else if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
        hookd_header_value(p + 12, len - 12, a->retry_after, sizeof a->retry_after);
    }
    int nomem = 0;
    if (a->max_head && !append(&a->head, &a->hlen, &a->hcap, a->max_head, p, len, &nomem)) {
        if (!nomem)
            a->over = 1;
        return 0;
    }
    return len;
}

const char *hookd_curl_answer_error(const hookd_curl_answer *a, CURLcode cc)
{
    return a->error[0] ? a->error : curl_easy_strerror(cc);
}
