/*
 * Reading PEM bundles into a set of certificates, identified by the
 * SHA-256 fingerprint of their DER encoding.
 *
 * A block read from a file is first identified by the SHA-256 of its
 * base64 text: when the store's index (store_known) says what that text
 * holds, nothing is decoded, and the DER is read back from the file
 * only when it is needed (cert_der).  Blocks read from memory keep their
 * DER.
 *
 * What a file of the store holds is the certificate and its trust
 * settings: a block is identified by the fingerprint of its certificate
 * (duplicates are dropped by it, as openssl rehash does), and its file
 * by that, its label and, when the block holds trust settings after the
 * certificate, the SHA-256 of the block's whole DER (tid).
 */
#ifndef SMTLSD_BUNDLE_H
#define SMTLSD_BUNDLE_H

#include <sys/types.h>
#include <sys/tree.h>

#include <stddef.h>

#include <openssl/x509.h>

#include "compat.h"

#define CERT_FPLEN	32

struct certsrc;			/* a bundle file, read again for DER */

struct cert {
	RB_ENTRY(cert)	 entry;
	unsigned char	 fp[CERT_FPLEN];	/* SHA-256 of the certificate */
	unsigned char	 td[CERT_FPLEN];	/* SHA-256 of the block's text */
	unsigned char	*der;		/* the whole block, with aux if any;
					   NULL until cert_der() for a
					   certificate read from a file */
	size_t		 derlen;
	unsigned char	 tid[CERT_FPLEN];	/* SHA-256 of the whole DER,
					   when aux */
	int		 trusted;	/* a TRUSTED CERTIFICATE block */
	int		 aux;		/* trust settings follow the
					   certificate in der */
	int		 hashed;	/* hash below is known */
	int		 bad;		/* fp proved wrong: never recorded */
	int		 cached;	/* fp is the index's word, unchecked */
	unsigned long	 hash;		/* X509_subject_name_hash */
	size_t		 seq;		/* order of reading: bundle order */
	const char	*file;		/* where it was read, for messages */
	size_t		 line;
	struct certsrc	*src;		/* read from this file, or NULL */
	off_t		 off;		/* where the block's text starts */
	size_t		 textlen;
};
RB_HEAD(certtree, cert);
RB_PROTOTYPE(certtree, cert, entry, cert_cmp)

/*
 * What the text of a block holds: the store's index records one for
 * each block it has seen, so that the next pass decodes only new text.
 */
struct certblock {
	unsigned char	 td[CERT_FPLEN];	/* SHA-256 of the text */
	unsigned char	 fp[CERT_FPLEN];	/* of the certificate */
	unsigned char	 tid[CERT_FPLEN];	/* of the whole DER, when
						   BLOCK_AUX */
};

struct blockmap {
	struct certblock *slots;
	unsigned char	 *state;	/* of each slot: 0 (empty), or */
#define BLOCK_USED	0x01
#define BLOCK_TRUSTED	0x02		/* a TRUSTED CERTIFICATE block */
#define BLOCK_BAD	0x04		/* two answers: never found */
#define BLOCK_SEEN	0x08		/* (for the store) */
#define BLOCK_AUX	0x10		/* trust settings: tid is valid */
	size_t		  size;		/* 0 or a power of two */
	size_t		  count;
};
#define BLOCKMAP_STATE(m, b)	((m)->state[(b) - (m)->slots])

struct certslab;
struct certslot;

struct certset {
	struct certtree	 tree;
	size_t		 count;		/* distinct certificates */
	size_t		 duplicates;	/* blocks dropped as duplicates */
	size_t		 keys;		/* private keys seen and skipped */
	size_t		 errors;	/* problems that forbid pruning */
	size_t		 decoded;	/* blocks of files that were decoded */
	size_t		 fromfiles;	/* certificates read from files */
	struct blockmap	*known;		/* blocks known to the store, or NULL */
	struct blockmap	 extra;		/* other texts of certificates in
					   tree, read from files */
	struct certsrc	**srcs;		/* the names certs point into */
	size_t		 nsrcs;
	struct certslab	*slabs;
	struct certslot	*byfp;		/* tree's certificates, hashed */
	size_t		 fpsize;
};

void		 certset_init(struct certset *);
void		 certset_free(struct certset *);
size_t		 certset_bad(const struct certset *);
int		 bundle_read(struct certset *, const char *);
int		 bundle_read_mem(struct certset *, const char *, const char *,
		    size_t);
struct cert	*certset_find(struct certset *, const unsigned char *);
int		 cert_der(struct cert *);
void		 cert_der_drop(struct cert *);
int		 cert_hash(struct cert *);
X509		*cert_x509(struct cert *);
int		 cert_pem(const struct cert *, char **, size_t *);
char		*cert_subject(const struct cert *);
void		 cert_fphex(const unsigned char *, char *);
int		 cert_fpparse(const char *, unsigned char *);
int		 cert_fingerprint(const unsigned char *, size_t,
		    unsigned char *);
int		 cert_same(const struct cert *, const unsigned char *, int,
		    int, const unsigned char *);

void		 blockmap_init(struct blockmap *);
void		 blockmap_free(struct blockmap *);
int		 blockmap_reserve(struct blockmap *, size_t);
int		 blockmap_add(struct blockmap *, const unsigned char *,
		    const unsigned char *, int, const unsigned char *);
struct certblock *blockmap_find(const struct blockmap *,
		    const unsigned char *, int);

#endif
