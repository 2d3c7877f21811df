/*
 * Deciding whether a dehydrated certificate set (certs/<domain>/) is
 * complete and valid.
 */
#ifndef SMTLSD_ACME_H
#define SMTLSD_ACME_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "bundle.h"

enum acme_state {
	ACME_VALID,	/* complete and valid */
	ACME_WAIT,	/* in the middle of a renewal, or not there yet */
	ACME_INVALID	/* complete but wrong: never act on it */
};

struct acme_set {
	enum acme_state	  state;
	char		  reason[256];
	unsigned char	  fp[CERT_FPLEN];	/* of cert.pem */
	struct timespec	  newest;		/* newest mtime in the set */
	char		 *chain_pem;		/* chain.pem as read */
	size_t		  chain_len;
	X509		 *cert;
	STACK_OF(X509)	 *chain;
};

void	acme_check(const char *, struct acme_set *);
void	acme_verify(struct acme_set *, const char *);
void	acme_verify_store(struct acme_set *, X509_STORE *, const char *);
void	acme_set_free(struct acme_set *);

#endif
