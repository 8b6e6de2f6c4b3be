/* tls: server-side TLS on memory BIOs. */
#include "tls.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>

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
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "server.tls.cert: cannot load %s: %s", cert,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "server.tls.key: cannot load %s: %s", key,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "server.tls: the key does not match the certificate");
        goto fail;
    }
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
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
