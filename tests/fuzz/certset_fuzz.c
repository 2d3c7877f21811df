/*
 * libFuzzer target: the PEM scanner and the set of certificates
 * (certset_read_mem, pem_scan), and what
 * the store does with each certificate it returns: hash it, write it
 * back as PEM (which must read back as the same certificate) and name
 * its subject.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certset.h"
#include "fuzz.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certset	 set, again;
	struct cert	*c, *back;
	char		*pem, *subject;
	size_t		 len;

	certset_init(&set);
	certset_read_mem(&set, "fuzz", (const char *)data, size);
	RB_FOREACH(c, certtree, &set.tree) {
		if (c->derlen == 0)
			abort();
		cert_hash(c);
		if (cert_pem(c, &pem, &len) == -1)
			abort();
		/* What the store writes must read back as the same block. */
		certset_init(&again);
		if (certset_read_mem(&again, "pem", pem, len) == -1 ||
		    again.count != 1 ||
		    (back = certset_find(&again, c->fp)) == NULL ||
		    back->derlen != c->derlen ||
		    memcmp(back->der, c->der, c->derlen) != 0 ||
		    back->trusted != c->trusted) {
			fprintf(fuzz_diag, "PEM written for a certificate does "
			    "not read back the same\n");
			abort();
		}
		certset_free(&again);
		free(pem);
		subject = cert_subject(c);
		free(subject);
	}
	certset_free(&set);
	return (0);
}
