/* curl_opts: see curl_opts.h. */
#include "curl_opts.h"

CURLcode hookd_curl_setup(CURL *h, const hookd_curl_opts *o)
{
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                        \
    do {                                                                                     \
        if (cc == CURLE_OK)                                                                  \
            cc = curl_easy_setopt(h, opt, val);                                              \
    } while (0)
    SET(CURLOPT_URL, o->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->ca_file)
        SET(CURLOPT_CAINFO, o->ca_file);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SET(CURLOPT_USERAGENT, o->user_agent);
    SET(CURLOPT_HTTPHEADER, o->headers);
    SET(CURLOPT_ERRORBUFFER, o->errbuf);
    SET(CURLOPT_WRITEFUNCTION, o->on_body);
    SET(CURLOPT_WRITEDATA, o->ud);
    /* Without a header callback, libcurl hands the headers to the body
     * callback when HEADERDATA is set: set both or neither. */
    if (o->on_header) {
        SET(CURLOPT_HEADERFUNCTION, o->on_header);
        SET(CURLOPT_HEADERDATA, o->ud);
    }
    if (o->user) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, o->user);
        SET(CURLOPT_PASSWORD, o->pass ? o->pass : "");
    }
#undef SET
    return cc;
}
