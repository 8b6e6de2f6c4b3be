/* tls: server-side TLS on memory BIOs. */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

SSL_CTX *hookd_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation is a CPU-exhaustion lever for clients; nobody needs it. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    EVP_PKEY *pkey = NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        const char *why = ERR_reason_error_string(ERR_get_error());
        snprintf(err, errlen, "server.tls.cert: cannot load %s: %s", cert, why ? why : "?");
        goto fail;
    }
    /* Read apart, so that a key of another pair (a renewal caught half
     * way) is named as such, not as an unreadable key. */
    FILE *f = fopen(key, "r");
    int open_errno = errno;
    pkey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!pkey) {
        const char *why = f ? ERR_reason_error_string(ERR_get_error()) : strerror(open_errno);
        snprintf(err, errlen, "server.tls.key: cannot load %s: %s", key, why ? why : "?");
        goto fail;
    }
    if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1) {
        snprintf(err, errlen, "server.tls: the key does not match the certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        const char *why = ERR_reason_error_string(ERR_get_error());
        snprintf(err, errlen, "server.tls.key: cannot use %s: %s", key, why ? why : "?");
        goto fail;
    }
    EVP_PKEY_free(pkey);
    return ctx;
fail:
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

static int cert_info(X509 *x, hookd_tls_cert_info *info)
{
    memset(info, 0, sizeof *info);
    struct tm tm;
    if (!x || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return -1;
    info->not_after = (int64_t)timegm(&tm);
    X509_NAME *subject = X509_get_subject_name(x);
    if (subject &&
        X509_NAME_get_text_by_NID(subject, NID_commonName, info->cn, sizeof info->cn) < 0)
        info->cn[0] = '\0';
    return 0;
}

int hookd_tls_ctx_cert_info(SSL_CTX *ctx, hookd_tls_cert_info *info)
{
    return cert_info(ctx ? SSL_CTX_get0_certificate(ctx) : NULL, info);
}

int hookd_tls_file_cert_info(const char *path, hookd_tls_cert_info *info)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    int rc = cert_info(x, info);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

void hookd_tls_cert_describe(const hookd_tls_cert_info *info, int64_t now, char *out,
                             size_t len)
{
    char when[32] = "?";
    struct tm tm;
    time_t t = (time_t)info->not_after;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int64_t left = info->not_after - now;
    int64_t days = (left < 0 ? -left : left) / 86400, hours = (left < 0 ? -left : left) / 3600;
    char rel[64];
    if (left >= 86400)
        snprintf(rel, sizeof rel, "in %lld day%s", (long long)days, days == 1 ? "" : "s");
    else if (left >= 0)
        snprintf(rel, sizeof rel, "in %lld hour%s", (long long)hours, hours == 1 ? "" : "s");
    else if (-left >= 86400)
        snprintf(rel, sizeof rel, "expired %lld day%s ago", (long long)days,
                 days == 1 ? "" : "s");
    else
        snprintf(rel, sizeof rel, "expired %lld hour%s ago", (long long)hours,
                 hours == 1 ? "" : "s");
    snprintf(out, len, "certificate %s%s, expires %s (%s)", info->cn[0] ? "CN=" : "no CN",
             info->cn, when, rel);
}

int hookd_tls_init(hookd_tls *t, SSL_CTX *ctx)
{
    t->ssl = SSL_new(ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        SSL_free(t->ssl);
        BIO_free(t->in);
        BIO_free(t->out);
        t->ssl = NULL;
        return -1;
    }
    /* An empty read BIO means "try again later", not end of file. */
    BIO_set_mem_eof_return(t->in, -1);
    BIO_set_mem_eof_return(t->out, -1);
    SSL_set_bio(t->ssl, t->in, t->out);
    SSL_set_accept_state(t->ssl);
    return 0;
}

void hookd_tls_free(hookd_tls *t)
{
    if (t->ssl)
        SSL_free(t->ssl); /* frees both BIOs */
    t->ssl = NULL;
}

int hookd_tls_read(hookd_tls *t, const char *data, size_t len, char *plain, size_t cap)
{
    if (len > 0 && BIO_write(t->in, data, (int)len) != (int)len)
        return -1;
    int n = SSL_read(t->ssl, plain, (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return 0;
    }
    ERR_clear_error();
    return -1;
}

int hookd_tls_write(hookd_tls *t, const char *plain, size_t len)
{
    while (len > 0) {
        int n = SSL_write(t->ssl, plain, (int)len);
        if (n <= 0) {
            ERR_clear_error();
            return -1;
        }
        plain += n;
        len -= (size_t)n;
    }
    return 0;
}

size_t hookd_tls_take(hookd_tls *t, char **buf)
{
    size_t n = (size_t)BIO_ctrl_pending(t->out);
    if (n == 0)
        return 0;
    char *b = malloc(n);
    if (!b)
        return 0;
    int got = BIO_read(t->out, b, (int)n);
    if (got <= 0) {
        free(b);
        return 0;
    }
    *buf = b;
    return (size_t)got;
}
