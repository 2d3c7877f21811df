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

#include "certset.h"

enum acme_state {
	ACME_VALID,	/* complete and valid */
	ACME_WAIT,	/* in the middle of a renewal, or not there yet */
	ACME_INVALID	/* complete but wrong: never act on it */
};

/* At most this many intermediates of a set join cert_dir. */
#define ACME_PATH_MAX	8

struct acme_set {
	enum acme_state	  state;
	char		  reason[256];
	unsigned char	  fp[CERT_FPLEN];	/* of cert.pem */
	struct timespec	  newest;		/* newest mtime in the set */
	X509		 *cert;
	STACK_OF(X509)	 *chain;	/* chain.pem: candidates */
	STACK_OF(X509)	 *path;		/* verified intermediates */
	time_t		  expires;	/* first notAfter on the verified
					   chain, up to the CA */
	char		  expiring[128];	/* whose: "cert.pem", or a CA */
};

void	acme_check(const char *, struct acme_set *);
void	acme_verify(struct acme_set *, X509_STORE *, const char *);
void	acme_set_free(struct acme_set *);

#endif
