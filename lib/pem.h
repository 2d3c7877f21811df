/*
 * The PEM scanner of CA bundles: finds the certificate blocks of a text
 * as OpenSSL's PEM reader would read them, says file:line and the rule
 * of each block it refuses, and reads on after a damaged one.
 */
#ifndef SMTLSD_PEM_H
#define SMTLSD_PEM_H

#include <stddef.h>

/* What a scan found. */
struct pem_stats {
	size_t	blocks;		/* certificate blocks handed on */
	size_t	keys;		/* private keys seen and skipped */
	size_t	errors;		/* blocks refused, or refused by the caller */
};

/*
 * Told of each certificate block: where its BEGIN line is, whether it
 * is a TRUSTED CERTIFICATE, and its DER, decoded over the block's own
 * base64 in the text scanned (so valid as long as that text).  Returns
 * 0, or -1 when it refuses the block (it logs why).
 */
typedef int (*pem_block_fn)(void *, size_t, int, const unsigned char *,
    size_t);

void	pem_scan(const char *, char *, size_t, pem_block_fn, void *,
	    struct pem_stats *);
long	pem_b64_decode(const char *, size_t, unsigned char *);
size_t	pem_der_len(const unsigned char *, size_t);

#endif
