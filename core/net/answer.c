/* answer: reason phrases and JSON error bodies (see answer.h). */
#include "answer.h"
#include "common/text.h"

#include <stdio.h>
#include <string.h>

const char *hookd_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void hookd_response_error(hookd_response *resp, int status, const char *msg)
{
    /* The reason may hold bytes a sender chose (a parser's "near '...'"):
     * invalid UTF-8 becomes U+FFFD, and the text is cut only between whole
     * characters and escapes, so the body is always JSON. */
    static const char tail[] = "\"}";
    resp->status = status;
    size_t cap = sizeof resp->body - sizeof tail, at;
    at = (size_t)snprintf(resp->body, cap, "{\"error\":\"");
    const unsigned char *p = (const unsigned char *)msg;
    size_t left = strlen(msg);
    while (left > 0) {
        char esc[8];
        const char *put = esc;
        size_t n = hookd_utf8_len(p, left), take = n ? n : 1;
        if (*p == '"' || *p == '\\')
            n = (size_t)snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20)
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        else if (n == 0)
            n = (size_t)snprintf(esc, sizeof esc, "\\ufffd");
        else
            put = (const char *)p;
        if (at + n > cap)
            break;
        memcpy(resp->body + at, put, n);
        at += n;
        p += take;
        left -= take;
    }
    memcpy(resp->body + at, tail, sizeof tail);
    resp->body_len = at + sizeof tail - 1;
}
