/*
 * The CA store: a directory holding exactly the wanted certificates as
 * OpenSSL CApath files <subject_hash>.N, next to files that are not
 * ours and that we never touch.
 */
#ifndef SMTLSD_STORE_H
#define SMTLSD_STORE_H

#include <stddef.h>

#include "certset.h"
#include "file.h"

#define STORE_DRYRUN	0x01	/* plan only, report it, change nothing */
#define STORE_NOPRUNE	0x02	/* the input is damaged: keep what we have */

#define STORE_TMPPFX	FILE_TMPPFX

struct store_stats {
	size_t	certs;		/* certificates wanted */
	size_t	collisions;	/* hashes holding more than one */
	size_t	added;
	size_t	replaced;
	size_t	removed;
	size_t	unchanged;
	size_t	foreign;	/* hash-named files that are not ours */
	size_t	errors;
};

enum store_action {
	STORE_ADD,
	STORE_REPLACE,
	STORE_REMOVE
};

/* Told of each change a dry run would make; cert is NULL for removals. */
typedef void (*store_report_fn)(void *, enum store_action, const char *,
    const struct cert *);

struct store;

struct store	*store_new(void);
void		 store_free(struct store *);
int		 store_sync(struct store *, const char *, struct certset *,
		    int, struct store_stats *, store_report_fn, void *);

#endif
