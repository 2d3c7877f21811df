/*
 * One pass over everything smtlsd keeps: the CA store, the DH
 * parameters, the ACME certificate sets, and a sendmail reload when one
 * is due.
 */
#ifndef SMTLSD_PASS_H
#define SMTLSD_PASS_H

#include "conf.h"
#include "store.h"

#define PASS_DRYRUN	0x01	/* report what would change, change nothing */

struct pass_result {
	struct store_stats	 store;
	size_t			 bundle_certs;	/* blocks read, duplicates too */
	size_t			 duplicates;
	int			 failed;
	char			 reason[256];	/* first failure, for status */
};

int	pass_store(const struct conf *, struct store *, int,
	    struct pass_result *);
int	pass_run(const struct conf *, struct store *, int,
	    struct pass_result *);

#endif
