/*
 * smtlsd: keeps sendmail's STARTTLS files right.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "check.h"
#include "conf.h"
#include "engine.h"
#include "log.h"
#include "pass.h"
#include "resync.h"
#include "store.h"
#include "verify.h"

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr,
	    "usage: smtlsd [-CdhnNRv1] [-f file]\n"
	    "  -f file  configuration file (default %s)\n"
	    "  -d       stay in the foreground, log to stderr\n"
	    "  -n       check the configuration and exit\n"
	    "  -C       check sendmail's STARTTLS set-up, one line per "
	    "check\n"
	    "  -1       run one full pass and exit\n"
	    "  -N       dry run: show what a pass would change, change "
	    "nothing\n"
	    "  -R       resync: make the running daemon do a full pass and "
	    "report it\n"
	    "  -v       more detail (repeat for more)\n",
	    conf_default_file);
	exit(2);
}

static void
summary(const struct conf *conf, const struct pass_result *r, int dryrun)
{
	const struct store_stats	*s = &r->store;

	fprintf(stderr, "smtlsd: %s: %zu certificates (%zu duplicates "
	    "dropped, %zu hash%s shared), %s%zu added, %zu replaced, "
	    "%zu removed, %zu unchanged; %zu files not ours\n",
	    conf->cert_dir, s->certs, r->duplicates, s->collisions,
	    s->collisions == 1 ? "" : "es", dryrun ? "would be: " : "",
	    s->added, s->replaced, s->removed, s->unchanged, s->foreign);
}

int
main(int argc, char *argv[])
{
	struct conf		*conf;
	struct pass_state	 ps;
	struct pass_result	 r;
	struct verify_result	 vr;
	char			 why[512];
	const char		*file = NULL;
	int			 ch, debug = 0, check = 0, once = 0, dryrun = 0;
	int			 resync = 0, verbose = 0, setup = 0, rv;

	while ((ch = getopt(argc, argv, "Cdf:hnNRv1")) != -1) {
		switch (ch) {
		case 'C':
			setup = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'N':
			dryrun = 1;
			break;
		case 'R':
			resync = 1;
			break;
		case 'v':
			verbose++;
			break;
		case '1':
			once = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || check + once + dryrun + resync + setup > 1)
		usage();

	log_init(1, verbose);
	if ((conf = conf_load(file, file == NULL ? CONF_MISSING_OK : 0)) ==
	    NULL)
		exit(1);
	if (check) {
		if (verbose)
			conf_dump(conf, stdout);
		else
			fprintf(stderr, "smtlsd: %s: configuration OK\n",
			    conf->file);
		conf_free(conf);
		exit(0);
	}
	if (setup) {
		rv = check_main(conf);
		conf_free(conf);
		exit(rv);
	}
	if (resync) {
		rv = resync_main(conf);
		conf_free(conf);
		exit(rv);
	}
	if (once || dryrun) {
		if (pass_state_init(&ps) == -1)
			fatal("pass_state_init");
		memset(&r, 0, sizeof(r));
		rv = pass_run(conf, &ps, dryrun ? PASS_DRYRUN : PASS_ONESHOT,
		    &r);
		summary(conf, &r, dryrun);
		if (r.failed)
			fprintf(stderr, "smtlsd: pass failed: %s\n", r.reason);
		/* What sendmail serves now. */
		if (once && verify_once(conf, r.serve, r.nserve, &vr) == -1)
			rv = -1;
		if (once && vr.msg[0] != '\0') {
			if (vr.ok)
				log_info("verify: ok: %s", vr.msg);
			else
				log_warnx("verify: failed: %s", vr.msg);
			if (verify_expiry(&vr, conf, why, sizeof(why)))
				log_warnx("%s", why);
		}
		pass_state_free(&ps);
		conf_free(conf);
		exit(rv == 0 ? 0 : 1);
	}
	exit(engine_main(conf, file, debug));
}
