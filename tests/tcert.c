/*
 * Certificates made by the ATF C tests (tcert.h).
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atf-c.h>

#include "certset.h"
#include "ctest.h"
#include "log.h"
#include "tcert.h"


void
expect_log(const char *re)
{
	if (!atf_utils_grep_file("%s", ERRFILE, re)) {
		atf_utils_cat_file(ERRFILE, "stderr: ");
		atf_tc_fail("nothing logged matches %s", re);
	}
}

static char *
bio_text(BIO *b, size_t *lenp)
{
	char	*p, *s;
	long	 n;

	n = BIO_get_mem_data(b, &p);
	ATF_REQUIRE(n >= 0 && (s = malloc((size_t)n + 1)) != NULL);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	if (lenp != NULL)
		*lenp = (size_t)n;
	return (s);
}

/*
 * A self-signed CA certificate with subject CN=cn (O=org when given);
 * two calls with the same names give a hash collision.
 */
void
mkcert(struct tcert *t, const char *cn, const char *org)
{
	X509_NAME	*name;
	BIO		*b;
	unsigned char	*der = NULL;
	int		 len;
	static long	 serial = 1;

	memset(t, 0, sizeof(*t));
	ATF_REQUIRE((t->key = EVP_EC_gen("P-256")) != NULL);
	ATF_REQUIRE((t->x = X509_new()) != NULL);
	ATF_REQUIRE(X509_set_version(t->x, 2));
	ATF_REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(t->x), serial++));
	name = X509_get_subject_name(t->x);
	if (org != NULL)
		ATF_REQUIRE(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		    (const unsigned char *)org, -1, -1, 0));
	ATF_REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0));
	ATF_REQUIRE(X509_set_issuer_name(t->x, name));
	ATF_REQUIRE(X509_gmtime_adj(X509_getm_notBefore(t->x), 0));
	ATF_REQUIRE(X509_gmtime_adj(X509_getm_notAfter(t->x), 86400L * 3650));
	ATF_REQUIRE(X509_set_pubkey(t->x, t->key));
	ATF_REQUIRE(X509_sign(t->x, t->key, EVP_sha256()) > 0);
	ATF_REQUIRE((b = BIO_new(BIO_s_mem())) != NULL);
	ATF_REQUIRE(PEM_write_bio_X509(b, t->x));
	t->pem = bio_text(b, &t->pemlen);
	BIO_free(b);
	ATF_REQUIRE((len = i2d_X509(t->x, &der)) > 0);
	ATF_REQUIRE(cert_fingerprint(der, (size_t)len, t->fp) == 0);
	OPENSSL_free(der);
}

void
freecert(struct tcert *t)
{
	X509_free(t->x);
	EVP_PKEY_free(t->key);
	free(t->pem);
}

/* The certificate with its trust settings, as TRUSTED CERTIFICATE. */
char *
trusted_pem(struct tcert *t)
{
	ASN1_OBJECT	*obj;
	BIO		*b;
	char		*s;

	ATF_REQUIRE((obj = OBJ_txt2obj("serverAuth", 0)) != NULL);
	ATF_REQUIRE(X509_add1_trust_object(t->x, obj));
	ASN1_OBJECT_free(obj);
	ATF_REQUIRE((b = BIO_new(BIO_s_mem())) != NULL);
	ATF_REQUIRE(PEM_write_bio_X509_AUX(b, t->x));
	s = bio_text(b, NULL);
	BIO_free(b);
	return (s);
}

char *
key_pem(struct tcert *t, int traditional)
{
	BIO	*b;
	char	*s;

	ATF_REQUIRE((b = BIO_new(BIO_s_mem())) != NULL);
	if (traditional)
		ATF_REQUIRE(PEM_write_bio_PrivateKey_traditional(b, t->key,
		    NULL, NULL, 0, NULL, NULL));
	else
		ATF_REQUIRE(PEM_write_bio_PrivateKey(b, t->key, NULL, NULL, 0,
		    NULL, NULL));
	s = bio_text(b, NULL);
	BIO_free(b);
	return (s);
}

/* Concatenates strings into a new buffer. */
char *
cat(const char *first, ...)
{
	va_list		 ap;
	const char	*s;
	char		*buf = NULL;
	size_t		 len = 0, n;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		n = strlen(s);
		ATF_REQUIRE((buf = realloc(buf, len + n + 1)) != NULL);
		memcpy(buf + len, s, n);
		len += n;
	}
	va_end(ap);
	if (buf == NULL)
		ATF_REQUIRE((buf = strdup("")) != NULL);
	else
		buf[len] = '\0';
	return (buf);
}

/* Reads buf as the bundle "b.crt", capturing what is logged. */
int
readmem(struct certset *set, const char *buf)
{
	int	rv;

	log_init(1, 0);
	capture();
	rv = certset_read_mem(set, "b.crt", buf, strlen(buf));
	uncapture();
	return (rv);
}

int
lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return (n);
}
