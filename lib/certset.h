/*
 * The set of certificates read from the CA bundles and the chains:
 * each one by the SHA-256 fingerprint of its certificate (duplicates are
 * dropped by it, as openssl rehash drops them), with its DER, the trust
 * settings that followed it, and where it was read.
 *
 * What a file of the store holds is a certificate and its trust
 * settings: its identity (id) is the fingerprint for a plain
 * CERTIFICATE block, and otherwise the SHA-256 of its label and its
 * whole DER, so that a change of trust settings is a change of file.
 */
#ifndef SMTLSD_CERTSET_H
#define SMTLSD_CERTSET_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stddef.h>

#include <openssl/x509.h>

#include "compat.h"

#define CERT_FPLEN	32

struct cert {
	RB_ENTRY(cert)	 entry;
	unsigned char	 fp[CERT_FPLEN];	/* SHA-256 of the certificate */
	unsigned char	 id[CERT_FPLEN];	/* of what its file holds */
	const unsigned char *der;	/* the certificate, then its trust
					   settings when the block had them */
	size_t		 derlen;
	size_t		 certlen;	/* the certificate's part of der */
	int		 trusted;	/* a TRUSTED CERTIFICATE block */
	int		 hashed;	/* hash below is known */
	unsigned long	 hash;		/* X509_subject_name_hash */
	size_t		 seq;		/* order of reading: bundle order */
	const char	*file;		/* where it was read, for messages */
	size_t		 line;
};
RB_HEAD(certtree, cert);
RB_PROTOTYPE(certtree, cert, entry, cert_cmp)

/*
 * A text the set read and its name: its certificates' DER lies in the
 * text (decoded over the base64, pem_scan), and their file is the name.
 */
struct certsrc {
	SLIST_ENTRY(certsrc)	 entry;
	char			*text;
	char			 name[];
};

struct certset {
	struct certtree		 tree;
	size_t			 count;		/* distinct certificates */
	size_t			 duplicates;	/* blocks dropped as such */
	size_t			 keys;		/* private keys skipped */
	size_t			 errors;	/* problems: prune nothing */
	SLIST_HEAD(, certsrc)	 srcs;		/* what the certificates point to */
};

void		 certset_init(struct certset *);
void		 certset_free(struct certset *);
int		 certset_read(struct certset *, const char *);
int		 certset_read_mem(struct certset *, const char *, const char *,
		    size_t);
struct cert	*certset_find(struct certset *, const unsigned char *);

int		 cert_hash(struct cert *);
X509		*cert_x509(const struct cert *);
int		 cert_pem(const struct cert *, char **, size_t *);
char		*cert_subject(const struct cert *);
int		 cert_fingerprint(const unsigned char *, size_t,
		    unsigned char *);
void		 cert_fphex(const unsigned char *, char *);
int		 cert_fpparse(const char *, unsigned char *);

#endif
