/* tls: OpenSSL over memory BIOs, so that libuv owns the socket and TLS is
 * only a transform of bytes in and bytes out. */
#ifndef HOOKD_TLS_H
#define HOOKD_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

/* TLS 1.2 and newer, the certificate chain and key from PEM files.
 * Returns NULL with a one-line reason in err. Any thread. */
SSL_CTX *hookd_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen);

/* What hookd check, the log and /metrics say of a certificate. */
typedef struct hookd_tls_cert_info {
    char cn[256];       /* the subject's CN; "" when it has none */
    int64_t not_after;  /* Unix seconds */
} hookd_tls_cert_info;

/* The leaf certificate of ctx, or the first of a PEM file. 0, or -1 (no
 * certificate, or a date that cannot be read). */
int hookd_tls_ctx_cert_info(SSL_CTX *ctx, hookd_tls_cert_info *info);
int hookd_tls_file_cert_info(const char *path, hookd_tls_cert_info *info);

/* "certificate CN=x, expires 2027-01-01T00:00:00Z (in 26 days)", the time
 * left counted from now (Unix seconds); "(expired 2 days ago)" once past. */
void hookd_tls_cert_describe(const hookd_tls_cert_info *info, int64_t now, char *out,
                             size_t len);

typedef struct hookd_tls {
    SSL *ssl;
    BIO *in;   /* ciphertext from the peer */
    BIO *out;  /* ciphertext to the peer */
} hookd_tls;

int hookd_tls_init(hookd_tls *t, SSL_CTX *ctx);
void hookd_tls_free(hookd_tls *t);

/* Feeds received ciphertext, then decrypts what it can into plain (up to
 * cap bytes). Returns the plaintext length (0: need more), or -1 when the
 * connection must be closed (bad handshake, alert, protocol error).
 * Call again with len 0 until it returns 0 to drain buffered records. */
int hookd_tls_read(hookd_tls *t, const char *data, size_t len, char *plain, size_t cap);

/* Encrypts plain; the ciphertext is then taken with hookd_tls_take. */
int hookd_tls_write(hookd_tls *t, const char *plain, size_t len);

/* Moves pending ciphertext into a malloc'd buffer; returns its length
 * (0 when none, *buf untouched). */
size_t hookd_tls_take(hookd_tls *t, char **buf);

#endif
