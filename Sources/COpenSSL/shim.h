#ifndef CLOISTER_COPENSSL_SHIM_H
#define CLOISTER_COPENSSL_SHIM_H
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

// OpenSSL's safestack accessors are macros, which Swift cannot call; these wrap the few we need.
static inline STACK_OF(X509) *cloister_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int cloister_sk_X509_push(STACK_OF(X509) *sk, X509 *cert) { return sk_X509_push(sk, cert); }
static inline int cloister_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *cloister_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void cloister_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
static inline void cloister_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }

// Likewise for BIO_get_mem_data and OPENSSL_free.
static inline long cloister_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
static inline unsigned long cloister_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
static inline void cloister_OPENSSL_free(void *ptr) { OPENSSL_free(ptr); }

// X509V3_set_ctx_nodb is a macro; the others take a context Swift cannot size portably.
static inline X509_EXTENSION *cloister_X509V3_ext(X509 *issuer, X509 *subject, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, subject, NULL, NULL, 0);
    return X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
}

// EVP_EC_gen is a variadic macro in OpenSSL 3; these make keys with explicit contexts instead.
static inline EVP_PKEY *cloister_generate_key(int type) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
    if (ctx == NULL) return NULL;
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0) key = NULL;
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static inline EVP_PKEY *cloister_generate_ec(int nid) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (ctx == NULL) return NULL;
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, nid) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0) {
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static inline EVP_PKEY *cloister_generate_p384(void) { return cloister_generate_ec(NID_secp384r1); }
static inline EVP_PKEY *cloister_generate_x25519(void) { return cloister_generate_key(EVP_PKEY_X25519); }

// An HMAC context with its digest set and no key, made once per digest (EVP_MAC_fetch and the digest lookup take
// libcrypto's global lock; a duplicated context does not).
static inline EVP_MAC_CTX *cloister_hmac_template(const char *digest) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == NULL) return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

// Likewise for the CMS recipient list.
static inline int cloister_sk_CMS_RecipientInfo_num(STACK_OF(CMS_RecipientInfo) *sk) {
    return sk_CMS_RecipientInfo_num(sk);
}
static inline CMS_RecipientInfo *cloister_sk_CMS_RecipientInfo_value(STACK_OF(CMS_RecipientInfo) *sk, int i) {
    return sk_CMS_RecipientInfo_value(sk, i);
}

// An RSA key of `bits` with the default public exponent (65537), made with an explicit context like the others.
static inline EVP_PKEY *cloister_generate_rsa(unsigned int bits) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    if (ctx == NULL) return NULL;
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0) {
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}
#endif
