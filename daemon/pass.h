/*
 * One pass over everything smtlsd keeps: the CA store (bundles plus the
 * chains of the ACME certificate sets), the DH parameters, and the
 * decision whether sendmail must reload.
 */
#ifndef SMTLSD_PASS_H
#define SMTLSD_PASS_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <time.h>

#include "compat.h"

#include "acme.h"
#include "certset.h"
#include "conf.h"
#include "dhparam.h"
#include "store.h"
#include "verify.h"

#define PASS_DRYRUN	0x01	/* report what would change, change nothing */
#define PASS_ONESHOT	0x02	/* -1: make DH parameters and reload here */
#define PASS_QUIET	0x04	/* with PASS_DRYRUN: print nothing either
				   (what should be served, for a probe) */

/* At most this many intermediates of all sets together join cert_dir. */
#define PASS_PATHS_MAX	64

struct domain {
	RB_ENTRY(domain)	 entry;
	char			*dir;
	int			 seen;
	int			 acted;		/* acted_fp is set */
	unsigned char		 acted_fp[CERT_FPLEN];
	char			*good;		/* PEM: the verified intermediates
						   of the last good set */
	size_t			 good_len;
	size_t			 good_n;
	enum acme_state		 said_state;	/* what was last reported */
	char			 said[256];
	time_t			 expiry_said;	/* last expiry warning; 0 none */
};
RB_HEAD(domains, domain);
int	domain_cmp(const struct domain *, const struct domain *);
RB_PROTOTYPE(domains, domain, entry, domain_cmp)

/* What lives from one pass to the next in the daemon. */
struct pass_state {
	struct store	*store;
	struct domains	 domains;
	size_t		 ndomains;
	size_t		 said_over;	/* domains over max_domains, said */
	int		 said_paths;	/* PASS_PATHS_MAX reached, said */
	int		 dh_seen;	/* dh_dev/ino/mtime are set */
	dev_t		 dh_dev;
	ino_t		 dh_ino;
	struct timespec	 dh_mtime;
	char		 dh_said[256];
	struct dh_known	 dh_known;	/* not decoded again while same */
	/* Set by a pass for the engine. */
	int		 dh_wanted;	/* parameters must be generated */
	int		 reload_wanted;
	char		 reload_why[256];
	/* The pass's own: a reload held back since sendmail would refuse
	   its files (pass_safe), wanted again at every pass. */
	int		 reload_held;
	char		 held_why[256];
	char		 held_said[512];
};

struct pass_result {
	struct store_stats	 store;
	size_t			 bundle_certs;	/* blocks read, duplicates too */
	size_t			 duplicates;
	size_t			 domains;
	size_t			 domains_valid;
	int			 failed;
	int			 retry;		/* failed for a fault that may
						   go away without an event */
	time_t			 expiry_next;	/* when an expiry warning is
						   due (again); 0: none */
	char			 reason[256];	/* first failure, for status */
	/* What sendmail should serve: the good sets, in domain order. */
	struct verify_expect	 serve[VERIFY_EXPECT_MAX];
	size_t			 nserve;
};

int	pass_state_init(struct pass_state *);
void	pass_state_free(struct pass_state *);
int	pass_run(const struct conf *, struct pass_state *, int,
	    struct pass_result *);
int	pass_dh_written(const struct conf *, struct pass_state *);
void	pass_scan(const struct conf *, struct pass_state *);
void	pass_fail(struct pass_result *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));

#endif
