/*
 * dehydrated keeps certs/<domain>/ as timestamped files and links:
 * cert.pem -> cert-TS.pem, chain.pem, fullchain.pem, privkey.pem.  A
 * renewal writes privkey-TS.pem, leaves an empty cert-TS.pem for
 * seconds, then swaps the links, cert.pem last; on FreeBSD each link is
 * briefly missing.  A set is acted on only when all four resolve to
 * files of one timestamp, dehydrated's lock is gone, the key matches,
 * the certificate is within its validity period and its chain verifies
 * up to a CA in the store.  Anything transient is ACME_WAIT; anything
 * complete but wrong is ACME_INVALID.  The private key is read only to
 * compare it with the certificate, and never copied.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "acme.h"
#include "bundle.h"
#include "log.h"
#include "util.h"

#define ACME_FILE_MAX	(1024 * 1024)

static const char	*names[] = {
	"cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"
};

static void	set_state(struct acme_set *, enum acme_state, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

static void
set_state(struct acme_set *s, enum acme_state st, const char *fmt, ...)
{
	va_list	ap;

	s->state = st;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/*
 * The timestamp in a dehydrated file name ("cert-1700000000.pem"), or
 * -1 when the name has none.
 */
static long long
name_ts(const char *target)
{
	const char	*base, *dash, *p;
	long long	 ts = 0;

	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if ((dash = strrchr(base, '-')) == NULL || dash[1] == '\0')
		return (-1);
	for (p = dash + 1; *p >= '0' && *p <= '9'; p++) {
		if (ts > (LLONG_MAX - 9) / 10)
			return (-1);	/* no timestamp has that many digits */
		ts = ts * 10 + (*p - '0');
	}
	if (p == dash + 1 || strcmp(p, ".pem") != 0)
		return (-1);
	return (ts);
}

static BIO *
read_bio(const char *path, char **buf, size_t *len)
{
	BIO	*bio;

	if (util_read_file(path, 0, ACME_FILE_MAX, buf, len) == -1)
		return (NULL);
	if ((bio = BIO_new_mem_buf(*buf, (int)*len)) == NULL) {
		free(*buf);
		*buf = NULL;
	}
	return (bio);
}

static int
later(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec > b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec));
}

/*
 * Every file resolves, none is empty, the links agree on one timestamp,
 * and dehydrated is not running.  Returns 0, or -1 with the state set.
 */
static int
check_files(const char *dir, struct acme_set *s)
{
	struct stat	 st;
	char		 path[PATH_MAX], target[PATH_MAX], lock[PATH_MAX];
	char		 tmp[PATH_MAX], *base;
	long long	 ts, first = -1;
	const char	*firstname = NULL;
	ssize_t		 n;
	size_t		 i;

	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		set_state(s, ACME_WAIT, "not a directory (yet)");
		return (-1);
	}
	/* dehydrated's lock is ${BASEDIR}/lock, certs in BASEDIR/certs/. */
	strlcpy(tmp, dir, sizeof(tmp));
	base = dirname(tmp);
	strlcpy(path, base, sizeof(path));
	base = dirname(path);
	snprintf(lock, sizeof(lock), "%s/lock", base);
	if (access(lock, F_OK) == 0) {
		set_state(s, ACME_WAIT, "dehydrated is running (%s exists)",
		    lock);
		return (-1);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (lstat(path, &st) == -1) {
			set_state(s, ACME_WAIT, "%s is missing", names[i]);
			return (-1);
		}
		if (S_ISLNK(st.st_mode)) {
			if ((n = readlink(path, target, sizeof(target) - 1)) ==
			    -1) {
				set_state(s, ACME_WAIT, "%s: %s", names[i],
				    strerror(errno));
				return (-1);
			}
			target[n] = '\0';
			if ((ts = name_ts(target)) != -1) {
				if (first == -1) {
					first = ts;
					firstname = names[i];
				} else if (ts != first) {
					set_state(s, ACME_WAIT, "%s and %s "
					    "are from different renewals "
					    "(%lld, %lld)", firstname,
					    names[i], first, ts);
					return (-1);
				}
			}
		}
		if (stat(path, &st) == -1) {
			set_state(s, ACME_WAIT, "%s does not resolve: %s",
			    names[i], strerror(errno));
			return (-1);
		}
		if (!S_ISREG(st.st_mode)) {
			set_state(s, ACME_INVALID, "%s is not a regular file",
			    names[i]);
			return (-1);
		}
		if (st.st_size == 0) {
			set_state(s, ACME_WAIT, "%s is empty (dehydrated "
			    "still writing?)", names[i]);
			return (-1);
		}
		if (i == 3 && (st.st_mode & 077)) {
			set_state(s, ACME_INVALID, "privkey.pem is readable "
			    "by group or others (mode %04o); sendmail would "
			    "refuse it: chmod 600 it", (unsigned)(st.st_mode &
			    07777));
			return (-1);
		}
		if (i != 3 && (st.st_mode & 022)) {
			set_state(s, ACME_INVALID, "%s is writable by group "
			    "or others; sendmail would refuse it", names[i]);
			return (-1);
		}
		if (later(&st.st_mtim, &s->newest))
			s->newest = st.st_mtim;
	}
	return (0);
}

/*
 * Checks the set in dir, all but the chain's trust (acme_verify).  The
 * result is in s; free it with acme_set_free.
 */
void
acme_check(const char *dir, struct acme_set *s)
{
	EVP_PKEY	*key = NULL;
	X509		*x, *first = NULL;
	BIO		*bio = NULL;
	char		 path[PATH_MAX], *buf = NULL;
	size_t		 len = 0;
	unsigned char	*der = NULL;
	int		 derlen;

	memset(s, 0, sizeof(*s));
	if (check_files(dir, s) == -1)
		return;

	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	if ((bio = read_bio(path, &buf, &len)) == NULL ||
	    (s->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		set_state(s, ACME_WAIT, "cert.pem does not hold a certificate "
		    "(yet)");
		goto out;
	}
	BIO_free(bio);
	free(buf);
	bio = NULL;
	buf = NULL;

	snprintf(path, sizeof(path), "%s/privkey.pem", dir);
	if ((bio = read_bio(path, &buf, &len)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		set_state(s, ACME_INVALID, "privkey.pem does not hold a "
		    "private key");
		goto out;
	}
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	free(buf);
	bio = NULL;
	buf = NULL;
	if (X509_check_private_key(s->cert, key) != 1) {
		set_state(s, ACME_INVALID, "privkey.pem does not match "
		    "cert.pem");
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(s->cert)) <= 0) {
		set_state(s, ACME_INVALID, "cert.pem has expired");
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(s->cert)) >= 0) {
		set_state(s, ACME_INVALID, "cert.pem is not valid yet");
		goto out;
	}

	snprintf(path, sizeof(path), "%s/fullchain.pem", dir);
	if ((bio = read_bio(path, &buf, &len)) == NULL ||
	    (first = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    X509_cmp(first, s->cert) != 0) {
		set_state(s, ACME_WAIT, "fullchain.pem does not start with "
		    "cert.pem (another renewal?)");
		goto out;
	}
	BIO_free(bio);
	free(buf);
	bio = NULL;
	buf = NULL;

	snprintf(path, sizeof(path), "%s/chain.pem", dir);
	if ((bio = read_bio(path, &s->chain_pem, &s->chain_len)) == NULL ||
	    (s->chain = sk_X509_new_null()) == NULL) {
		set_state(s, ACME_WAIT, "chain.pem is unreadable");
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(s->chain, x)) {
			X509_free(x);
			break;
		}
	if (sk_X509_num(s->chain) == 0) {
		set_state(s, ACME_INVALID, "chain.pem holds no certificate");
		goto out;
	}

	if ((derlen = i2d_X509(s->cert, &der)) <= 0 ||
	    cert_fingerprint(der, (size_t)derlen, s->fp) == -1) {
		set_state(s, ACME_INVALID, "cert.pem cannot be encoded");
		goto out;
	}
	s->state = ACME_VALID;
	s->reason[0] = '\0';
out:
	ERR_clear_error();
	OPENSSL_free(der);
	X509_free(first);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(buf);
}

/*
 * Verifies the chain of a set that passed acme_check (its chain.pem as
 * untrusted intermediates) up to a CA in store, the way a client of
 * sendmail would.  Turns the state to ACME_INVALID when it does not
 * verify; where names the CAs for the message.
 */
void
acme_verify_store(struct acme_set *s, X509_STORE *store, const char *where)
{
	X509_STORE_CTX	*ctx = NULL;
	int		 err;

	if (s->state != ACME_VALID)
		return;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, s->cert, s->chain) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER)) {
		set_state(s, ACME_INVALID, "cannot set up verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		set_state(s, ACME_INVALID, "the chain does not verify up to "
		    "a CA in %s: %s", where,
		    X509_verify_cert_error_string(err));
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
}

/*
 * acme_verify_store with the CAs of cert_dir (an OpenSSL CApath).
 */
void
acme_verify(struct acme_set *s, const char *cert_dir)
{
	X509_STORE	*store;
	X509_LOOKUP	*lookup;

	if (s->state != ACME_VALID)
		return;
	if ((store = X509_STORE_new()) == NULL ||
	    (lookup = X509_STORE_add_lookup(store,
	    X509_LOOKUP_hash_dir())) == NULL ||
	    !X509_LOOKUP_add_dir(lookup, cert_dir, X509_FILETYPE_PEM))
		set_state(s, ACME_INVALID, "cannot set up verification");
	else
		acme_verify_store(s, store, cert_dir);
	ERR_clear_error();
	X509_STORE_free(store);
}

void
acme_set_free(struct acme_set *s)
{
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	free(s->chain_pem);
	s->cert = NULL;
	s->chain = NULL;
	s->chain_pem = NULL;
}
