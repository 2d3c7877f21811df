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
 *
 * A reload that is due is made only when sendmail will accept its files
 * (pass_safe, lib/safefile.c): otherwise it is held, the pass fails
 * naming the file and the rule, and every later pass (the fix is an
 * event on the files) checks again and reloads once they are right.
 * This is the one place that decides, for the daemon and for -1.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme.h"
#include "certset.h"
#include "conf.h"
#include "dhparam.h"
#include "file.h"
#include "log.h"
#include "pass.h"
#include "reloader.h"
#include "safefile.h"
#include "sendmailcf.h"
#include "store.h"

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
domain_cmp(const struct domain *a, const struct domain *b)
{
	return (strcmp(a->dir, b->dir));
}

RB_GENERATE(domains, domain, entry, domain_cmp)

int
pass_state_init(struct pass_state *ps)
{
	memset(ps, 0, sizeof(*ps));
	RB_INIT(&ps->domains);
	if ((ps->store = store_new()) == NULL)
		return (-1);
	return (0);
}

static void
domain_free(struct domain *d)
{
	free(d->dir);
	free(d->good);
	free(d);
}

void
pass_state_free(struct pass_state *ps)
{
	struct domain	*d, *next;

	RB_FOREACH_SAFE(d, domains, &ps->domains, next) {
		RB_REMOVE(domains, &ps->domains, d);
		domain_free(d);
	}
	store_free(ps->store);
	ps->store = NULL;
}

/*
 * Marks the domain directory dir as seen, adding it when it is new and,
 * unless the administrator named it (named), max_domains allows; *over
 * counts those it did not.
 */
static void
domain_see(const struct conf *conf, struct pass_state *ps, const char *dir,
    int named, size_t *over)
{
	struct domain	 key, *d;

	key.dir = (char *)(uintptr_t)dir;
	if ((d = RB_FIND(domains, &ps->domains, &key)) != NULL) {
		d->seen = 1;
		return;
	}
	if (!named && ps->ndomains >= (size_t)conf->max_domains) {
		(*over)++;
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->dir = strdup(dir)) == NULL) {
		free(d);
		log_warn("%s", dir);
		return;
	}
	d->said_state = ACME_VALID;
	d->seen = 1;
	RB_INSERT(domains, &ps->domains, d);
	ps->ndomains++;
}

/*
 * Marks every domain directory of the configuration as seen, and drops
 * the ones that went away.  acme_cert directories are always taken, so
 * that whoever fills an acme_dir with directories cannot crowd them out
 * of max_domains.  Under an acme_dir only directories count, not links
 * to them.
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
	size_t			 over = 0;

	RB_FOREACH(d, domains, &ps->domains)
		d->seen = 0;
	TAILQ_FOREACH(cp, &conf->acme_certs, entry)
		domain_see(conf, ps, cp->path, 1, &over);
	TAILQ_FOREACH(cp, &conf->acme_dirs, entry) {
		if ((dir = opendir(cp->path)) == NULL) {
			if (errno != ENOENT)
				log_warn("acme_dir %s", cp->path);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(dir), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", cp->path,
			    de->d_name) >= (int)sizeof(path))
				continue;
			domain_see(conf, ps, path, 0, &over);
		}
		closedir(dir);
	}
	RB_FOREACH_SAFE(d, domains, &ps->domains, next)
		if (!d->seen) {
			log_info("%s: gone, forgetting it", d->dir);
			RB_REMOVE(domains, &ps->domains, d);
			ps->ndomains--;
			domain_free(d);
		}
	if (over > 0 && ps->said_over == 0)
		log_warnx("more domain directories than max_domains %d: %zu "
		    "left alone; raise max_domains, or name the mail "
		    "domain with acme_cert", conf->max_domains, over);
	else if (over == 0 && ps->said_over > 0)
		log_info("domain directories within max_domains again");
	ps->said_over = over;
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
	return (timespeccmp(t, &st.st_mtim, >));
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
 * The CAs of the bundles (set) sorted by subject hash, for looking up
 * issuers; made once per pass, and only when a set needs it.
 */
struct trust {
	struct cert	**certs;
	size_t		  n;
	int		  made;
};

static int
trust_cmp(const void *a, const void *b)
{
	const struct cert	*x = *(struct cert * const *)a;
	const struct cert	*y = *(struct cert * const *)b;

	return (x->hash < y->hash ? -1 : x->hash > y->hash);
}

static void
trust_make(struct trust *t, struct certset *set)
{
	struct cert	*c;

	t->made = 1;
	if ((t->certs = calloc(set->count ? set->count : 1,
	    sizeof(*t->certs))) == NULL)
		return;
	RB_FOREACH(c, certtree, &set->tree)
		if (cert_hash(c) == 0)
			t->certs[t->n++] = c;
	qsort(t->certs, t->n, sizeof(*t->certs), trust_cmp);
}

/*
 * Adds to store the bundles' certificates whose subject hash is that
 * of x's issuer, and theirs, depth levels up at most.  Returns how
 * many.
 */
static int
trust_add_issuers(struct trust *t, X509_STORE *store, X509 *x, int depth)
{
	struct cert	 key, *kp = &key, **p;
	X509		*ca;
	int		 n = 0;

	key.hash = X509_issuer_name_hash(x);
	if ((p = bsearch(&kp, t->certs, t->n, sizeof(*t->certs),
	    trust_cmp)) == NULL)
		return (0);
	while (p > t->certs && p[-1]->hash == key.hash)
		p--;
	for (; p < t->certs + t->n && (*p)->hash == key.hash; p++) {
		if ((ca = cert_x509(*p)) == NULL)
			continue;
		if (X509_STORE_add_cert(store, ca) == 1)
			n++;
		/* A CA of the bundles cross-signed by another. */
		if (X509_self_signed(ca, 0) != 1 && depth < 4)
			n += trust_add_issuers(t, store, ca, depth + 1);
		X509_free(ca);
	}
	ERR_clear_error();
	return (n);
}

/*
 * Verifies s against the bundles alone: a store with the possible
 * issuers of its certificate and of its chain.pem's, from the bundles.
 */
static void
trust_verify(struct trust *t, struct certset *set, struct acme_set *s)
{
	X509_STORE	*store;
	int		 i;

	if (s->state != ACME_VALID)
		return;
	if (!t->made)
		trust_make(t, set);
	if ((store = X509_STORE_new()) == NULL) {
		s->state = ACME_INVALID;
		strlcpy(s->reason, "out of memory", sizeof(s->reason));
		return;
	}
	trust_add_issuers(t, store, s->cert, 0);
	for (i = 0; i < sk_X509_num(s->chain); i++)
		trust_add_issuers(t, store, sk_X509_value(s->chain, i), 0);
	acme_verify(s, store, "the CA bundles");
	X509_STORE_free(store);
}

/*
 * The verified intermediates of s as PEM, into d->good (the last good
 * set's, which join the store while later sets are unproven).
 */
static void
domain_keep(struct domain *d, const struct acme_set *s)
{
	BIO	*out;
	BUF_MEM	*mem;
	char	*buf;
	int	 i;

	if ((out = BIO_new(BIO_s_mem())) == NULL)
		return;
	for (i = 0; i < sk_X509_num(s->path); i++)
		PEM_write_bio_X509(out, sk_X509_value(s->path, i));
	BIO_get_mem_ptr(out, &mem);
	if ((buf = malloc(mem->length + 1)) != NULL) {
		if (mem->length > 0)	/* else mem->data may be NULL */
			memcpy(buf, mem->data, mem->length);
		buf[mem->length] = '\0';
		free(d->good);
		d->good = buf;
		d->good_len = mem->length;
		d->good_n = (size_t)sk_X509_num(s->path);
	}
	ERR_clear_error();
	BIO_free(out);
}

/*
 * A good set whose chain (the certificate, its intermediates, or the CA
 * of the bundles it ends at) expires within expiry_warn days: the pass
 * fails saying so, and it is logged once a day; otherwise the moment the
 * warning is due goes to r->expiry_next, for the engine's one timer.
 */
static void
expiry_check(const struct conf *conf, struct domain *d,
    const struct acme_set *s, struct pass_result *r)
{
	struct tm	 tm;
	time_t		 now, warn_at, next;
	char		 on[32], issued[32], msg[512];
	long long	 days;

	now = time(NULL);
	if (conf->expiry_warn_days == 0 || s->expires == 0)
		return;
	warn_at = s->expires - (time_t)conf->expiry_warn_days * 86400;
	if (now < warn_at) {
		d->expiry_said = 0;
		next = warn_at;
	} else {
		days = (long long)(s->expires - now) / 86400;
		strftime(on, sizeof(on), "%Y-%m-%d", gmtime_r(&s->expires,
		    &tm));
		if (strcmp(s->expiring, "the certificate") == 0) {
			issued[0] = '\0';
			if (ASN1_TIME_to_tm(X509_get0_notBefore(s->cert), &tm))
				strftime(issued, sizeof(issued), "%Y-%m-%d",
				    &tm);
			snprintf(msg, sizeof(msg), "%s: the certificate "
			    "expires in %lld day%s, on %s (renewed last on "
			    "%s; is dehydrated running?)", d->dir, days,
			    days == 1 ? "" : "s", on, issued);
		} else
			snprintf(msg, sizeof(msg), "%s: %s expires in %lld "
			    "day%s, on %s; the CA bundle needs an update",
			    d->dir, s->expiring, days, days == 1 ? "" : "s",
			    on);
		pass_fail(r, "%s", msg);
		if (d->expiry_said == 0 || now - d->expiry_said >= 86400) {
			log_warnx("%s", msg);
			d->expiry_said = now;
		}
		next = d->expiry_said + 86400;
	}
	if (r->expiry_next == 0 || next < r->expiry_next)
		r->expiry_next = next;
}

/*
 * The certificate's first DNS name (subjectAltName), into buf; or its
 * common name when it has none.  Returns 0, or -1 when it has neither.
 */
static int
cert_dnsname(X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES		*sans;
	const GENERAL_NAME	*gn;
	const unsigned char	*s;
	int			 i, n, found = 0;

	if ((sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL)) != NULL) {
		for (i = 0; !found && i < sk_GENERAL_NAME_num(sans); i++) {
			gn = sk_GENERAL_NAME_value(sans, i);
			if (gn->type != GEN_DNS)
				continue;
			s = ASN1_STRING_get0_data(gn->d.dNSName);
			n = ASN1_STRING_length(gn->d.dNSName);
			if (n <= 0 || (size_t)n >= len ||
			    memchr(s, '\0', (size_t)n) != NULL)
				continue;
			memcpy(buf, s, (size_t)n);
			buf[n] = '\0';
			found = 1;
		}
		GENERAL_NAMES_free(sans);
		if (found)
			return (0);
	}
	return (X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, buf, (int)len) > 0 ? 0 : -1);
}

/*
 * A good set is what sendmail should serve: its name (the directory's,
 * which dehydrated names after the first domain, when the certificate
 * is for it; else the certificate's first DNS name), fingerprint,
 * serial and notAfter, for the STARTTLS probe (verify.c).
 */
static void
serve_add(struct pass_result *r, const struct domain *d,
    const struct acme_set *s)
{
	struct verify_expect	*e;
	struct tm		 tm;
	const char		*base;
	BIGNUM			*bn;
	char			*hex;

	if (r->nserve >= VERIFY_EXPECT_MAX)
		return;
	e = &r->serve[r->nserve];
	memset(e, 0, sizeof(*e));
	base = strrchr(d->dir, '/');
	base = base != NULL ? base + 1 : d->dir;
	if (X509_check_host(s->cert, base, 0, 0, NULL) == 1 ||
	    cert_dnsname(s->cert, e->name, sizeof(e->name)) == -1)
		strlcpy(e->name, base, sizeof(e->name));
	memcpy(e->fp, s->fp, VERIFY_FPLEN);
	strlcpy(e->serial, "?", sizeof(e->serial));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(s->cert),
	    NULL)) != NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL)
			strlcpy(e->serial, hex, sizeof(e->serial));
		OPENSSL_free(hex);
		BN_free(bn);
	}
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(s->cert), &tm) == 1)
		e->not_after = timegm(&tm);
	ERR_clear_error();
	r->nserve++;
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
	struct domain		*d, *over;
	struct acme_set		*s;
	struct trust		 trust;
	char			 name[PATH_MAX];
	size_t			 i, paths = 0;
	int			 noprune = 0, sflags = 0;

	certset_init(&set);
	memset(&trust, 0, sizeof(trust));
	TAILQ_FOREACH(cp, &conf->ca_bundles, entry)
		if (certset_read(&set, cp->path) == -1)
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
	 * Each set is checked, and a complete one verified against the
	 * bundles alone, before any chain joins the store: so a chain.pem
	 * can neither vouch for itself nor for another's.  Only the
	 * intermediates on a verified path join (sendmail sends only the
	 * first certificate of its server file, and OpenSSL completes the
	 * chain it sends from cert_dir); a domain whose new set is not
	 * good keeps those of its last good set, which sendmail serves
	 * until it reloads.  Nothing a domain holds stops the bundles'
	 * removals.
	 */
	i = 0;
	RB_FOREACH(d, domains, &ps->domains) {
		s = &sets[i++];
		acme_check(d->dir, s);
		trust_verify(&trust, &set, s);
		if (s->state == ACME_VALID)
			domain_keep(d, s);
	}
	free(trust.certs);
	over = NULL;
	RB_FOREACH(d, domains, &ps->domains) {
		if (d->good == NULL || d->good_len == 0)
			continue;
		if (paths + d->good_n > PASS_PATHS_MAX) {
			if (over == NULL)
				over = d;
			continue;
		}
		paths += d->good_n;
		snprintf(name, sizeof(name), "%s/chain.pem", d->dir);
		if (certset_read_mem(&set, name, d->good, d->good_len) == -1)
			log_warnx("%s: cannot add its intermediates", d->dir);
	}
	if (over != NULL && !ps->said_paths)
		log_warnx("%s and maybe others: their intermediates would make "
		    "more than %d of all domains together; not adding them to "
		    "%s", over->dir, PASS_PATHS_MAX, conf->cert_dir);
	ps->said_paths = over != NULL;

	if (noprune)
		sflags |= STORE_NOPRUNE;
	if (flags & PASS_DRYRUN)
		sflags |= STORE_DRYRUN;
	if (store_sync(ps->store, conf->cert_dir, &set, sflags, &r->store,
	    (flags & (PASS_DRYRUN | PASS_QUIET)) == PASS_DRYRUN ?
	    pass_dryrun_report : NULL,
	    conf->cert_dir) == -1) {
		pass_fail(r, "updating %s failed", conf->cert_dir);
		r->retry = 1;
	}
	certset_free(&set);

	i = 0;
	RB_FOREACH(d, domains, &ps->domains) {
		s = &sets[i++];
		r->domains++;
		domain_say(d, s);
		if (s->state == ACME_INVALID)
			pass_fail(r, "%s: %s", d->dir, s->reason);
		if (s->state != ACME_VALID)
			continue;
		r->domains_valid++;
		expiry_check(conf, d, s, r);
		serve_add(r, d, s);
		if (d->acted && memcmp(d->acted_fp, s->fp, CERT_FPLEN) == 0)
			continue;
		if ((d->acted || newer_than_sendmail(conf, &s->newest)) &&
		    conf->reload_signal == 0 && conf->reload_command == NULL)
			log_info("%s: new certificate set; reload_signal none: "
			    "not telling anyone", d->dir);
		else if (d->acted || newer_than_sendmail(conf, &s->newest))
			want_reload(ps, "new certificate in %s", d->dir);
		else if (!(flags & PASS_QUIET))
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
	enum dh_state	 rv;

	rv = dhparam_check(conf->dh_params, conf->dh_bits, &ps->dh_known, why,
	    sizeof(why));
	if (rv == DH_GOOD) {
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
	if (rv == DH_LEAVE) {
		if (strcmp(ps->dh_said, why) != 0)
			log_warnx("dh_params %s: %s; left alone",
			    conf->dh_params, why);
		strlcpy(ps->dh_said, why, sizeof(ps->dh_said));
		pass_fail(r, "dh_params %s: %s", conf->dh_params, why);
		return;
	}
	if (flags & PASS_DRYRUN) {
		if (!(flags & PASS_QUIET))
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
 * Checks the files sendmail will read at the reload, with the rules of
 * lib/safefile.c.  Which files:
 *
 *  - sendmail_cf readable and naming ServerCertFile or ServerKeyFile:
 *    those, and CACertFile (each may be "first,second");
 *  - sendmail_cf readable and naming neither: every good set smtlsd
 *    uses (fullchain.pem, cert.pem, chain.pem and privkey.pem), since
 *    any of them may be what sendmail is given;
 *  - sendmail_cf missing, or "none": nothing.  smtlsd cannot know then
 *    which files sendmail reads or what its DontBlameSendmail relaxes,
 *    and a guess would hold back reloads sendmail accepts.
 *
 * DontBlameSendmail and TrustedUser come from sendmail_cf.  A
 * sendmail_cf that cannot be believed (group or others can write it)
 * holds the reload too.  Returns 0, or -1 with why filled in.
 */
static int
check_list(const char *list, enum safefile_kind kind,
    const struct safefile_rules *rules, char *why, size_t len)
{
	char	*copy, *p, *f;
	int	 rv = 0;

	if (list == NULL)
		return (0);
	if ((copy = strdup(list)) == NULL) {
		snprintf(why, len, "out of memory");
		return (-1);
	}
	p = copy;
	while (rv == 0 && (f = strsep(&p, ",")) != NULL)
		if (*f != '\0')
			rv = safefile_check(f, kind, rules, why, len);
	free(copy);
	return (rv);
}

static int
pass_safe(const struct conf *conf, struct pass_state *ps, char *why,
    size_t len)
{
	static const char *const certs[] = { "fullchain.pem", "cert.pem",
	    "chain.pem" };
	struct sendmailcf	 cf;
	struct safefile_rules	 rules;
	struct domain		*d;
	char			 path[PATH_MAX];
	size_t			 i;
	int			 rv = 0;

	if (conf->sendmail_cf == NULL)
		return (0);
	switch (sendmailcf_read(conf->sendmail_cf, &cf, why, len)) {
	case SMCF_MISSING:
		sendmailcf_free(&cf);
		return (0);
	case SMCF_BAD:
		sendmailcf_free(&cf);
		return (-1);
	case SMCF_OK:
		break;
	}
	safefile_rules_init(&rules);
	safefile_dontblame(&rules, cf.opt[SMCF_DONTBLAME], why, len);
	if (safefile_trusted(&rules, cf.opt[SMCF_TRUSTEDUSER], why,
	    len) == -1)
		rv = -1;
	else if (cf.opt[SMCF_SERVERCERT] != NULL ||
	    cf.opt[SMCF_SERVERKEY] != NULL) {
		if (check_list(cf.opt[SMCF_SERVERCERT], SAFEFILE_CERT, &rules,
		    why, len) == -1 ||
		    check_list(cf.opt[SMCF_SERVERKEY], SAFEFILE_KEY, &rules,
		    why, len) == -1 ||
		    check_list(cf.opt[SMCF_CACERTFILE], SAFEFILE_CERT, &rules,
		    why, len) == -1)
			rv = -1;
	} else {
		RB_FOREACH(d, domains, &ps->domains) {
			if (d->said_state != ACME_VALID)
				continue;
			for (i = 0; rv == 0 && i < sizeof(certs) / sizeof(certs[0]); i++) {
				snprintf(path, sizeof(path), "%s/%s", d->dir,
				    certs[i]);
				rv = safefile_check(path, SAFEFILE_CERT,
				    &rules, why, len);
			}
			snprintf(path, sizeof(path), "%s/privkey.pem", d->dir);
			if (rv == 0)
				rv = safefile_check(path, SAFEFILE_KEY, &rules,
				    why, len);
			if (rv == -1)
				break;
		}
	}
	sendmailcf_free(&cf);
	return (rv);
}

/*
 * A reload that is due, when sendmail would refuse its files: held back
 * (said once per reason), and the pass fails.  Once the files are right
 * the reload goes ahead, and the reason it was due is kept.
 */
static void
pass_hold(const struct conf *conf, struct pass_state *ps,
    struct pass_result *r)
{
	char	why[400];

	if (!ps->reload_wanted)
		return;
	if (pass_safe(conf, ps, why, sizeof(why)) == 0) {
		if (ps->reload_held)
			log_info("sendmail will accept its files again; "
			    "reloading it");
		ps->reload_held = 0;
		ps->held_said[0] = '\0';
		return;
	}
	if (!ps->reload_held)
		strlcpy(ps->held_why, ps->reload_why, sizeof(ps->held_why));
	ps->reload_held = 1;
	ps->reload_wanted = 0;
	if (strcmp(ps->held_said, why) != 0)
		log_warnx("not reloading %s (%s): %s; it keeps serving the "
		    "files it has", conf->reload_process, ps->held_why, why);
	strlcpy(ps->held_said, why, sizeof(ps->held_said));
	pass_fail(r, "not reloading %s: %s", conf->reload_process, why);
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
	char		 why[256];
	size_t		 n, i;

	if (ps->reload_held)
		want_reload(ps, "%s", ps->held_why);
	domains_scan(conf, ps);
	n = ps->ndomains;
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
	if (!(flags & PASS_DRYRUN))
		pass_hold(conf, ps, r);

	if (ps->reload_wanted && (flags & PASS_DRYRUN)) {
		if (!(flags & PASS_QUIET))
			printf("reload  %s (%s)\n", conf->reload_process,
			    ps->reload_why);
		ps->reload_wanted = 0;
	} else if (ps->reload_wanted && (flags & PASS_ONESHOT)) {
		if (reloader_once(conf, ps->reload_why, why,
		    sizeof(why)) == -1)
			pass_fail(r, "%s", why);
		ps->reload_wanted = 0;
	}
	return (r->failed ? -1 : 0);
}
