/* curl_opts: see curl_opts.h. */
#include "curl_opts.h"

#include <string.h>

CURLcode hookd_curl_setup(CURL *h, const hookd_curl_opts *o)
{
    CURLcode cc = CURLE_OK;
    const char *method = o->method ? o->method : "GET";
#define SET(opt, val)                                                                        \
    do {                                                                                     \
        if (cc == CURLE_OK)                                                                  \
            cc = curl_easy_setopt(h, opt, val);                                              \
    } while (0)
    SET(CURLOPT_URL, o->url);
    if (o->path_as_is)
        SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, o->follow ? 1L : 0L);
    if (o->follow) {
        SET(CURLOPT_MAXREDIRS, o->max_redirs);
        SET(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    }
    SET(CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->ca_file)
        SET(CURLOPT_CAINFO, o->ca_file);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                             : o->timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SET(CURLOPT_USERAGENT, o->user_agent);
    SET(CURLOPT_HTTPHEADER, o->headers);
    SET(CURLOPT_ERRORBUFFER, o->answer->error);
    SET(CURLOPT_WRITEFUNCTION, hookd_curl_answer_body);
    SET(CURLOPT_WRITEDATA, o->answer);
    SET(CURLOPT_HEADERFUNCTION, hookd_curl_answer_header);
    SET(CURLOPT_HEADERDATA, o->answer);
    if (o->user) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, o->user);
        SET(CURLOPT_PASSWORD, o->pass ? o->pass : "");
    }
    if (!strcmp(method, "GET")) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "DELETE") && !o->body) {
        SET(CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body ? o->body_len : 0));
        SET(CURLOPT_POSTFIELDS, o->body ? o->body : "");
        if (strcmp(method, "POST"))
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SET
    return cc;
}

CURLcode hookd_curl_perform(CURL *h, hookd_curl_answer *a)
{
    CURLcode cc = curl_easy_perform(h);
    a->status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    return cc;
}
