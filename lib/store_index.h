/*
 * The store's index, .smtlsd.index in cert_dir: one line for each file
 * smtlsd wrote there, with the inode, size and ctime it had and the
 * identity of what it holds (certset.h), so that a pass over unchanged
 * files opens none of them.  Only a cache: an index that is missing,
 * damaged or of another version is read as none, and the files are
 * read instead.
 */
#ifndef SMTLSD_STORE_INDEX_H
#define SMTLSD_STORE_INDEX_H

#include <sys/types.h>

#include <stddef.h>

#include "certset.h"
#include "file.h"

#define STORE_INDEX	".smtlsd.index"

struct index_rec {
	unsigned long	 hash;		/* the file <hash>.<n> */
	unsigned long	 n;
	struct filestamp st;		/* its inode, size and ctime */
	unsigned char	 id[CERT_FPLEN];
};

struct store_index {
	struct index_rec	*recs;		/* by name, no two alike */
	size_t			 nrecs;
};

int	store_index_name(const char *, unsigned long *, unsigned long *);
int	store_index_read(int, const char *, struct store_index *);
int	store_index_write(int, const char *, const struct index_rec *,
	    size_t);
const struct index_rec *store_index_find(const struct store_index *,
	    unsigned long, unsigned long);
void	store_index_free(struct store_index *);

#endif
