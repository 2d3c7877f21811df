/*
 * Reading PEM bundles into a set of certificates, identified by the
 * SHA-256 fingerprint of their DER encoding.
 */
#ifndef SMTLSD_BUNDLE_H
#define SMTLSD_BUNDLE_H

#include <sys/tree.h>

#include <stddef.h>

#include "compat.h"

#define CERT_FPLEN	32

struct cert {
	RB_ENTRY(cert)	 entry;
	unsigned char	 fp[CERT_FPLEN];	/* SHA-256 of the certificate */
	unsigned char	*der;		/* the whole block, with aux if any */
	size_t		 derlen;
	int		 trusted;	/* a TRUSTED CERTIFICATE block */
	int		 hashed;	/* hash below is known */
	unsigned long	 hash;		/* X509_subject_name_hash */
	const char	*file;		/* where it was read, for messages */
	size_t		 line;
};
RB_HEAD(certtree, cert);
RB_PROTOTYPE(certtree, cert, entry, cert_cmp)

struct certset {
	struct certtree	 tree;
	size_t		 count;		/* distinct certificates */
	size_t		 duplicates;	/* blocks dropped as duplicates */
	size_t		 keys;		/* private keys seen and skipped */
	size_t		 errors;	/* problems that forbid pruning */
	char		**files;	/* names the certs point into */
	size_t		 nfiles;
};

void		 certset_init(struct certset *);
void		 certset_free(struct certset *);
int		 bundle_read(struct certset *, const char *);
int		 bundle_read_mem(struct certset *, const char *, const char *,
		    size_t);
struct cert	*certset_find(struct certset *, const unsigned char *);
int		 cert_hash(struct cert *);
int		 cert_pem(const struct cert *, char **, size_t *);
char		*cert_subject(const struct cert *);
void		 cert_fphex(const unsigned char *, char *);
int		 cert_fpparse(const char *, unsigned char *);
int		 cert_fingerprint(const unsigned char *, size_t,
		    unsigned char *);

#endif
