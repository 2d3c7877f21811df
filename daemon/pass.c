/*
 * One pass over the CA store: every bundle merged into one set, then the
 * store made to hold exactly that set.  A bundle that is missing, empty
 * or damaged never leads to removals: what decoded is added, nothing is
 * pruned, and the pass fails.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "conf.h"
#include "log.h"
#include "pass.h"
#include "store.h"

static void	pass_fail(struct pass_result *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

static void
pass_fail(struct pass_result *r, const char *fmt, ...)
{
	va_list	ap;

	if (!r->failed) {
		va_start(ap, fmt);
		vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
		va_end(ap);
	}
	r->failed = 1;
}

static void
dryrun_report(void *arg, enum store_action a, const char *name,
    const struct cert *c)
{
	const char	*dir = arg;
	char		*subject;

	if (a == STORE_REMOVE) {
		printf("remove  %s/%s\n", dir, name);
		return;
	}
	subject = cert_subject(c);
	printf("%-7s %s/%s  %s  (%s:%zu)\n", a == STORE_ADD ? "add" :
	    "replace", dir, name, subject ? subject : "?", c->file, c->line);
	free(subject);
}

/*
 * Brings the CA store in line with the bundles.  Returns 0, or -1 with
 * r->reason saying why.
 */
int
pass_store(const struct conf *conf, struct store *store, int flags,
    struct pass_result *r)
{
	struct certset		 set;
	struct conf_path	*cp;
	size_t			 before;
	int			 sflags = 0;

	certset_init(&set);
	TAILQ_FOREACH(cp, &conf->ca_bundles, entry) {
		before = set.count + set.duplicates;
		if (bundle_read(&set, cp->path) == -1)
			pass_fail(r, "CA bundle %s is missing or damaged",
			    cp->path);
		log_debug("%s: %zu certificates", cp->path,
		    set.count + set.duplicates - before);
	}
	r->bundle_certs = set.count + set.duplicates;
	r->duplicates = set.duplicates;
	if (set.errors > 0) {
		log_warnx("%zu problem%s in the CA bundles: adding what "
		    "decoded, removing nothing from %s", set.errors,
		    set.errors == 1 ? "" : "s", conf->cert_dir);
		sflags |= STORE_NOPRUNE;
	}
	if (flags & PASS_DRYRUN)
		sflags |= STORE_DRYRUN;
	if (store_sync(store, conf->cert_dir, &set, sflags, &r->store,
	    dryrun_report, conf->cert_dir) == -1)
		pass_fail(r, "updating %s failed", conf->cert_dir);
	certset_free(&set);
	return (r->failed ? -1 : 0);
}

/*
 * The whole pass.  Returns 0, or -1 with r->reason saying what failed
 * first.
 */
int
pass_run(const struct conf *conf, struct store *store, int flags,
    struct pass_result *r)
{
	pass_store(conf, store, flags, r);
	return (r->failed ? -1 : 0);
}
