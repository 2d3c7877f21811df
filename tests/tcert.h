/*
 * Certificates made by the ATF C tests of the certificate set and the
 * store, and the little they share to read and check them.
 */
#ifndef SMTLSD_TESTS_TCERT_H
#define SMTLSD_TESTS_TCERT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certset.h"

struct tcert {
	X509		*x;
	EVP_PKEY	*key;
	char		*pem;		/* PEM_write_bio_X509's output */
	size_t		 pemlen;
	unsigned char	 fp[CERT_FPLEN];
};

void	 expect_log(const char *);
void	 mkcert(struct tcert *, const char *, const char *);
void	 freecert(struct tcert *);
char	*trusted_pem(struct tcert *);
char	*key_pem(struct tcert *, int);
char	*cat(const char *, ...);
int	 readmem(struct certset *, const char *);
int	 lines(const char *);

#endif
