/*
 * One pass.  In order:
 *
 *  1. every ACME domain directory is checked (acme_check); the chain of
 *     each set (the current one when it is good, else the last good one)
 *     joins the bundles, since sendmail sends only the first certificate
 *     of its server file and clients get the intermediate from the CA
 *     directory;
 *  2. the CA store is made to hold exactly the bundles and those chains;
 *     a damaged bundle (or an unknown chain) means add, never remove;
 *  3. each complete set is verified against the store (acme_verify); a
 *     new good set makes a reload due;
 *  4. the DH parameters are checked: missing or weak ones are made (here
 *     for -1 or a named group, by the engine's child otherwise), and new
 *     ones make a reload due.
 *
 * A set or DH file seen for the first time since start makes a reload
 * due only when it is newer than sendmail's pidfile, which sendmail
 * rewrites at every start and reload: so neither a restart of smtlsd
 * nor a second -1 reloads sendmail for nothing.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme.h"
#include "bundle.h"
#include "conf.h"
#include "dhparam.h"
#include "log.h"
#include "pass.h"
#include "reload.h"
#include "store.h"
#include "util.h"

static void
pass_dryrun_report(void *arg, enum store_action a, const char *name,
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

void
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

int
pass_state_init(struct pass_state *ps)
{
	memset(ps, 0, sizeof(*ps));
	TAILQ_INIT(&ps->domains);
	if ((ps->store = store_new()) == NULL)
		return (-1);
	return (0);
}

static void
domain_free(struct domain *d)
{
	free(d->dir);
	free(d->good_chain);
	free(d);
}

void
pass_state_free(struct pass_state *ps)
{
	struct domain	*d;

	while ((d = TAILQ_FIRST(&ps->domains)) != NULL) {
		TAILQ_REMOVE(&ps->domains, d, entry);
		domain_free(d);
	}
	store_free(ps->store);
	ps->store = NULL;
}

static struct domain *
domain_get(struct pass_state *ps, const char *dir)
{
	struct domain	*d;

	TAILQ_FOREACH(d, &ps->domains, entry)
		if (strcmp(d->dir, dir) == 0)
			return (d);
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->dir = strdup(dir)) == NULL) {
		free(d);
		return (NULL);
	}
	d->said_state = ACME_VALID;
	TAILQ_INSERT_TAIL(&ps->domains, d, entry);
	return (d);
}

/*
 * Marks every domain directory of the configuration as seen, and drops
 * the ones that went away.
 */
static void
domains_scan(const struct conf *conf, struct pass_state *ps)
{
	struct conf_path	*cp;
	struct domain		*d, *next;
	struct dirent		*de;
	struct stat		 st;
	DIR			*dir;
	char			 path[PATH_MAX];

	TAILQ_FOREACH(d, &ps->domains, entry)
		d->seen = 0;
	TAILQ_FOREACH(cp, &conf->acme_dirs, entry) {
		if ((dir = opendir(cp->path)) == NULL) {
			if (errno != ENOENT)
				log_warn("acme_dir %s", cp->path);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", cp->path,
			    de->d_name);
			if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode))
				continue;
			if ((d = domain_get(ps, path)) != NULL)
				d->seen = 1;
		}
		closedir(dir);
	}
	TAILQ_FOREACH(cp, &conf->acme_certs, entry)
		if ((d = domain_get(ps, cp->path)) != NULL)
			d->seen = 1;
	TAILQ_FOREACH_SAFE(d, &ps->domains, entry, next)
		if (!d->seen) {
			log_info("%s: gone, forgetting it", d->dir);
			TAILQ_REMOVE(&ps->domains, d, entry);
			domain_free(d);
		}
}

/*
 * Finds the domain directories of the configuration, as every pass
 * does first; the engine calls it to watch them before a pass reads
 * them.
 */
void
pass_scan(const struct conf *conf, struct pass_state *ps)
{
	domains_scan(conf, ps);
}

/*
 * Whether t is newer than sendmail's pidfile (so newer than the files
 * sendmail read at its last start or reload).  No pidfile: no.
 */
static int
newer_than_sendmail(const struct conf *conf, const struct timespec *t)
{
	struct stat	st;

	if (stat(conf->reload_pidfile, &st) == -1)
		return (0);
	return (t->tv_sec > st.st_mtim.tv_sec ||
	    (t->tv_sec == st.st_mtim.tv_sec &&
	    t->tv_nsec > st.st_mtim.tv_nsec));
}

static void
want_reload(struct pass_state *ps, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
want_reload(struct pass_state *ps, const char *fmt, ...)
{
	va_list	ap;

	if (!ps->reload_wanted) {
		va_start(ap, fmt);
		vsnprintf(ps->reload_why, sizeof(ps->reload_why), fmt, ap);
		va_end(ap);
	}
	ps->reload_wanted = 1;
}

/*
 * Reports a set's state once per change of state or reason.
 */
static void
domain_say(struct domain *d, const struct acme_set *s)
{
	if (s->state == d->said_state && strcmp(s->reason, d->said) == 0)
		return;
	d->said_state = s->state;
	strlcpy(d->said, s->reason, sizeof(d->said));
	if (s->state == ACME_WAIT && strncmp(s->reason, "dehydrated is",
	    13) == 0)
		log_debug("%s: waiting: %s", d->dir, s->reason);
	else if (s->state == ACME_WAIT)
		log_info("%s: waiting: %s", d->dir, s->reason);
	else if (s->state == ACME_INVALID)
		log_warnx("%s: not using this certificate set: %s; sendmail "
		    "keeps the previous one", d->dir, s->reason);
}

/*
 * The certificates of pem that are not self-signed, as PEM in a new
 * buffer; NULL when pem holds none that decode, or out of memory.
 */
static char *
chain_intermediates(const char *pem, size_t len, size_t *outlen)
{
	BIO	*in, *out = NULL;
	BUF_MEM	*mem;
	X509	*x;
	char	*buf = NULL;
	int	 n = 0;

	if ((in = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		n++;
		if (X509_self_signed(x, 0) != 1)
			PEM_write_bio_X509(out, x);
		X509_free(x);
	}
	BIO_get_mem_ptr(out, &mem);
	if (n > 0 && (buf = malloc(mem->length + 1)) != NULL) {
		if (mem->length > 0)	/* else mem->data may be NULL */
			memcpy(buf, mem->data, mem->length);
		buf[mem->length] = '\0';
		*outlen = mem->length;
	}
out:
	ERR_clear_error();
	BIO_free(in);
	BIO_free(out);
	return (buf);
}

/*
 * Adds the certificates of a chain.pem to set.  Unless the chain was
 * verified up to a CA of the bundles, only its intermediates: a
 * self-signed certificate from a chain.pem in cert_dir would be a CA
 * that nothing vouches for.
 */
static void
chain_add(struct certset *set, const char *dir, const char *pem, size_t len,
    int *noprune)
{
	char	name[PATH_MAX], *only;
	size_t	errors = set->errors, olen;
	int	rv = -1;

	snprintf(name, sizeof(name), "%s/chain.pem", dir);
	if ((only = chain_intermediates(pem, len, &olen)) != NULL)
		rv = olen == 0 ? 0 : bundle_read_mem(set, name, only, olen);
	free(only);
	if (rv == -1) {
		/* Not the bundles' fault: keep what the store has. */
		set->errors = errors;
		*noprune = 1;
	}
}

/*
 * Whether dir has a set at all: cert.pem or chain.pem exists, even as a
 * link whose target is gone.
 */
static int
domain_has_set(const char *dir)
{
	struct stat	st;
	char		path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	if (lstat(path, &st) == 0)
		return (1);
	snprintf(path, sizeof(path), "%s/chain.pem", dir);
	return (lstat(path, &st) == 0);
}

/*
 * Steps 1 to 3.  sets[] receives each domain's set, in domain order.
 */
static void
pass_ca(const struct conf *conf, struct pass_state *ps, int flags,
    struct pass_result *r, struct acme_set *sets)
{
	struct certset		 set;
	struct conf_path	*cp;
	struct domain		*d;
	struct acme_set		*s;
	char			*pem, path[PATH_MAX];
	size_t			 len, i;
	int			 noprune = 0, sflags = 0;

	certset_init(&set);
	store_known(ps->store, conf->cert_dir, &set);
	TAILQ_FOREACH(cp, &conf->ca_bundles, entry)
		if (bundle_read(&set, cp->path) == -1)
			pass_fail(r, "CA bundle %s is missing or damaged",
			    cp->path);
	r->bundle_certs = set.count + set.duplicates;
	r->duplicates = set.duplicates;
	if (set.errors > 0) {
		log_warnx("%zu problem%s in the CA bundles: adding what "
		    "decoded, removing nothing from %s", set.errors,
		    set.errors == 1 ? "" : "s", conf->cert_dir);
		noprune = 1;
	}

	/*
	 * Only the intermediates of chain.pem join the store, never a
	 * self-signed certificate: roots come from the bundles alone, so a
	 * chain cannot vouch for itself (OpenSSL anchors a chain only at a
	 * self-signed certificate of the store).  The last good set's chain
	 * stays while a new set is unproven, since sendmail serves that set
	 * until it reloads.  The new set is verified against the store once
	 * the store holds its intermediates (below), which loads from
	 * cert_dir only the few certificates the chain needs.
	 */
	i = 0;
	TAILQ_FOREACH(d, &ps->domains, entry) {
		s = &sets[i++];
		acme_check(d->dir, s);
		if (d->good_chain != NULL)
			chain_add(&set, d->dir, d->good_chain, d->good_len,
			    &noprune);
		if (s->state == ACME_VALID)
			chain_add(&set, d->dir, s->chain_pem, s->chain_len,
			    &noprune);
		else if (d->good_chain == NULL) {
			/*
			 * Whatever chain.pem holds now, or keep all while
			 * a renewal may be half done.  A directory with
			 * neither cert.pem nor chain.pem (not even as a
			 * dangling link) holds no set: nothing to keep.
			 */
			snprintf(path, sizeof(path), "%s/chain.pem", d->dir);
			if (util_read_file(path, 0, 1024 * 1024, &pem,
			    &len) == 0) {
				chain_add(&set, d->dir, pem, len, &noprune);
				free(pem);
			} else if (errno != ENOENT ||
			    (s->state == ACME_WAIT && domain_has_set(d->dir)))
				noprune = 1;
		}
	}

	if (noprune)
		sflags |= STORE_NOPRUNE;
	if (flags & PASS_DRYRUN)
		sflags |= STORE_DRYRUN;
	if (store_sync(ps->store, conf->cert_dir, &set, sflags, &r->store,
	    (flags & PASS_DRYRUN) ? pass_dryrun_report : NULL,
	    conf->cert_dir) == -1) {
		pass_fail(r, "updating %s failed", conf->cert_dir);
		r->retry = 1;
	}
	certset_free(&set);

	i = 0;
	TAILQ_FOREACH(d, &ps->domains, entry) {
		s = &sets[i++];
		r->domains++;
		acme_verify(s, conf->cert_dir);
		domain_say(d, s);
		if (s->state == ACME_INVALID)
			pass_fail(r, "%s: %s", d->dir, s->reason);
		if (s->state != ACME_VALID)
			continue;
		r->domains_valid++;
		if (!(flags & PASS_DRYRUN)) {
			free(d->good_chain);
			d->good_chain = s->chain_pem;
			d->good_len = s->chain_len;
			s->chain_pem = NULL;
		}
		if (d->acted && memcmp(d->acted_fp, s->fp, CERT_FPLEN) == 0)
			continue;
		if ((d->acted || newer_than_sendmail(conf, &s->newest)) &&
		    conf->reload_signal == 0 && conf->reload_command == NULL)
			log_info("%s: new certificate set; reload_signal none: "
			    "not telling anyone", d->dir);
		else if (d->acted || newer_than_sendmail(conf, &s->newest))
			want_reload(ps, "new certificate in %s", d->dir);
		else
			log_info("%s: certificate set is complete and valid",
			    d->dir);
		if (!(flags & PASS_DRYRUN)) {
			memcpy(d->acted_fp, s->fp, CERT_FPLEN);
			d->acted = 1;
		}
	}
}

static void
dh_remember(struct pass_state *ps, const struct stat *st)
{
	ps->dh_seen = 1;
	ps->dh_dev = st->st_dev;
	ps->dh_ino = st->st_ino;
	ps->dh_mtime = st->st_mtim;
}

/*
 * Call after writing new DH parameters: they are what sendmail must
 * read, so a reload is due.
 */
int
pass_dh_written(const struct conf *conf, struct pass_state *ps)
{
	struct stat	st;

	if (lstat(conf->dh_params, &st) == 0)
		dh_remember(ps, &st);
	want_reload(ps, "new DH parameters in %s", conf->dh_params);
	ps->dh_said[0] = '\0';
	return (0);
}

/*
 * Step 4.
 */
static void
pass_dh(const struct conf *conf, struct pass_state *ps, int flags,
    struct pass_result *r)
{
	struct stat	 st;
	char		 why[256], *pem;
	size_t		 len;
	int		 rv;

	rv = dhparam_check(conf->dh_params, conf->dh_bits, &ps->dh_known, why,
	    sizeof(why));
	if (rv == 1) {
		ps->dh_said[0] = '\0';
		if (lstat(conf->dh_params, &st) == -1)
			return;
		if (ps->dh_seen && (st.st_dev != ps->dh_dev ||
		    st.st_ino != ps->dh_ino ||
		    st.st_mtim.tv_sec != ps->dh_mtime.tv_sec ||
		    st.st_mtim.tv_nsec != ps->dh_mtime.tv_nsec))
			want_reload(ps, "%s was replaced", conf->dh_params);
		else if (!ps->dh_seen &&
		    newer_than_sendmail(conf, &st.st_mtim))
			want_reload(ps, "%s is newer than sendmail",
			    conf->dh_params);
		if (!(flags & PASS_DRYRUN))
			dh_remember(ps, &st);
		return;
	}
	if (rv == -1) {
		if (strcmp(ps->dh_said, why) != 0)
			log_warnx("dh_params %s: %s; left alone",
			    conf->dh_params, why);
		strlcpy(ps->dh_said, why, sizeof(ps->dh_said));
		pass_fail(r, "dh_params %s: %s", conf->dh_params, why);
		return;
	}
	if (flags & PASS_DRYRUN) {
		printf("make    %s (%s)\n", conf->dh_params, why);
		return;
	}
	if (strcmp(ps->dh_said, why) != 0)
		log_info("dh_params %s: %s; making %s", conf->dh_params, why,
		    conf->dh_source == DH_GENERATE ? "new parameters" :
		    conf_dhsource_name(conf->dh_source));
	strlcpy(ps->dh_said, why, sizeof(ps->dh_said));
	if (conf->dh_source == DH_GENERATE && !(flags & PASS_ONESHOT)) {
		ps->dh_wanted = 1;	/* the engine's child makes them */
		return;
	}
	if (conf->dh_source == DH_GENERATE)
		log_info("generating %d-bit DH parameters; this can take "
		    "minutes", conf->dh_bits);
	if (dhparam_make(conf->dh_source, conf->dh_bits, &pem, &len) == -1 ||
	    dhparam_verify_pem(pem, len, conf->dh_bits) == -1 ||
	    dhparam_write(conf->dh_params, pem, len) == -1) {
		pass_fail(r, "dh_params %s: could not make new parameters",
		    conf->dh_params);
		r->retry = 1;
		return;
	}
	free(pem);
	log_info("dh_params %s: written", conf->dh_params);
	pass_dh_written(conf, ps);
}

/*
 * The reload of a one-shot pass; the daemon does its own (engine.c).
 */
static void
pass_reload(const struct conf *conf, struct pass_state *ps,
    struct pass_result *r)
{
	char	why[256];
	pid_t	pid;
	int	rv;

	if (conf->reload_command != NULL) {
		if (reload_run_wait(conf->reload_command,
		    conf->reload_timeout_ms, why, sizeof(why)) == -1) {
			log_warnx("%s", why);
			pass_fail(r, "%s", why);
		} else
			log_info("reload_command \"%s\" done (%s)",
			    conf->reload_command, ps->reload_why);
	} else if (conf->reload_signal != 0) {
		rv = reload_signal(conf, &pid, why, sizeof(why));
		if (rv == -1) {
			log_warnx("not reloading %s: %s", conf->reload_process,
			    why);
			pass_fail(r, "not reloading %s: %s",
			    conf->reload_process, why);
		} else if (rv == 1)
			log_info("%s: nothing to reload", why);
		else
			log_info("reloaded %s (pid %ld): %s",
			    conf->reload_process, (long)pid, ps->reload_why);
	}
	ps->reload_wanted = 0;
}

/*
 * The whole pass.  Returns 0, or -1 with r->reason saying what failed
 * first.  In the daemon, ps->dh_wanted and ps->reload_wanted tell the
 * engine what to do next.
 */
int
pass_run(const struct conf *conf, struct pass_state *ps, int flags,
    struct pass_result *r)
{
	struct acme_set	*sets;
	struct domain	*d;
	size_t		 n = 0, i;

	domains_scan(conf, ps);
	TAILQ_FOREACH(d, &ps->domains, entry)
		n++;
	if ((sets = calloc(n ? n : 1, sizeof(*sets))) == NULL) {
		log_warn("pass");
		pass_fail(r, "out of memory");
		r->retry = 1;
		return (-1);
	}
	pass_ca(conf, ps, flags, r, sets);
	for (i = 0; i < n; i++)
		acme_set_free(&sets[i]);
	free(sets);
	pass_dh(conf, ps, flags, r);

	if (ps->reload_wanted && (flags & PASS_DRYRUN)) {
		printf("reload  %s (%s)\n", conf->reload_process,
		    ps->reload_why);
		ps->reload_wanted = 0;
	} else if (ps->reload_wanted && (flags & PASS_ONESHOT))
		pass_reload(conf, ps, r);
	return (r->failed ? -1 : 0);
}
