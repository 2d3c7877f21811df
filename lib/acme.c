/*
 * dehydrated keeps certs/<domain>/ as timestamped files and links:
 * cert.pem -> cert-TS.pem, chain.pem, fullchain.pem, privkey.pem.  A
 * renewal writes privkey-TS.pem, leaves an empty cert-TS.pem for
 * seconds, then swaps the links, cert.pem last; on FreeBSD each link is
 * briefly missing.  A set is acted on only when all four resolve to
 * files of one timestamp, dehydrated's lock is gone, the key matches,
 * the certificate is within its validity period and its chain verifies
 * up to a CA of the bundles.  Anything transient is ACME_WAIT; anything
 * complete but wrong is ACME_INVALID.  The private key is read only to
 * compare it with the certificate, and never copied.
 *
 * The directory may belong to dehydrated's own, unprivileged user, who
 * must not be able to make root do more than use the set or not: see
 * set_open for how its files are opened, and acme_verify for what of
 * chain.pem may join cert_dir.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

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

#include "compat.h"

#include "acme.h"
#include "certset.h"
#include "file.h"
#include "log.h"

#define ACME_FILE_MAX	(1024 * 1024)
#define ACME_CHAIN_READ	16	/* chain.pem certificates read at most */

#define NFILES		4	/* of a set, in names[] order */

static const char	*names[NFILES] = {
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

/*
 * Opens file i of the set in the domain directory dfd (owned by uid),
 * into fds[i].  The directory and all in it may belong to a user who
 * must not be able to make root read what that user cannot: a link is
 * followed only to a file of the same directory (as dehydrated makes
 * them), nothing is opened as a terminal or blocks on a FIFO, and the
 * file must be a regular file with one link, owned by root or by the
 * directory's owner.  No message says what lies behind a link.
 * Returns 0, or -1 with the state set.
 */
static int
set_open(int dfd, uid_t uid, size_t i, struct acme_set *s, int *fds,
    long long *first, const char **firstname)
{
	struct stat	 st;
	char		 target[NAME_MAX + 1];
	const char	*name = names[i], *open_name = names[i];
	long long	 ts;
	ssize_t		 n;
	int		 fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		set_state(s, ACME_WAIT, "%s is missing", name);
		return (-1);
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dfd, name, target, sizeof(target));
		if (n <= 0 || (size_t)n >= sizeof(target) ||
		    memchr(target, '/', (size_t)n) != NULL) {
			set_state(s, ACME_INVALID, "%s is a link out of the "
			    "domain directory; not used", name);
			return (-1);
		}
		target[n] = '\0';
		open_name = target;
		if ((ts = name_ts(target)) != -1) {
			if (*first == -1) {
				*first = ts;
				*firstname = name;
			} else if (ts != *first) {
				set_state(s, ACME_WAIT, "%s and %s are from "
				    "different renewals (%lld, %lld)",
				    *firstname, name, *first, ts);
				return (-1);
			}
		}
	}
	fd = openat(dfd, open_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		set_state(s, ACME_WAIT, "%s does not resolve (yet)", name);
		return (-1);
	}
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || (st.st_uid != 0 && st.st_uid != uid)) {
		if (fd != -1)
			close(fd);
		set_state(s, ACME_INVALID, "%s is not a usable set file (it "
		    "must be a regular file of the domain directory with one "
		    "link, owned by root or by the directory's owner)", name);
		return (-1);
	}
	fds[i] = fd;
	if (st.st_size > ACME_FILE_MAX) {
		set_state(s, ACME_INVALID, "%s is larger than %d KiB; not a "
		    "set file", name, ACME_FILE_MAX / 1024);
		return (-1);
	}
	if (st.st_size == 0) {
		set_state(s, ACME_WAIT, "%s is empty (dehydrated still "
		    "writing?)", name);
		return (-1);
	}
	if (i == 3 && (st.st_mode & 077)) {
		set_state(s, ACME_INVALID, "privkey.pem is readable by group "
		    "or others; sendmail would refuse it: chmod 600 it");
		return (-1);
	}
	if (i != 3 && (st.st_mode & 022)) {
		set_state(s, ACME_INVALID, "%s is writable by group or "
		    "others; sendmail would refuse it", name);
		return (-1);
	}
	if (timespeccmp(&st.st_mtim, &s->newest, >))
		s->newest = st.st_mtim;
	return (0);
}

/*
 * Opens the four files of the set in dir into fds (-1 where not open):
 * every file resolves inside dir, none is empty, the links agree on one
 * timestamp, and dehydrated is not running.  Returns 0, or -1 with the
 * state set.
 */
static int
set_open_all(const char *dir, struct acme_set *s, int *fds)
{
	struct stat	 st;
	char		 path[PATH_MAX], lock[PATH_MAX], tmp[PATH_MAX], *base;
	const char	*firstname = NULL;
	long long	 first = -1;
	size_t		 i;
	int		 dfd, rv = 0;

	/* dehydrated's lock is ${BASEDIR}/lock, certs in BASEDIR/certs/. */
	strlcpy(tmp, dir, sizeof(tmp));
	base = dirname(tmp);
	strlcpy(path, base, sizeof(path));
	base = dirname(path);
	snprintf(lock, sizeof(lock), "%s/lock", base);
	if (fstatat(AT_FDCWD, lock, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		set_state(s, ACME_WAIT, "dehydrated is running (%s exists)",
		    lock);
		return (-1);
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(dfd, &st) == -1) {
		set_state(s, ACME_WAIT, "not a directory (yet)");
		if (dfd != -1)
			close(dfd);
		return (-1);
	}
	for (i = 0; i < NFILES && rv == 0; i++)
		rv = set_open(dfd, st.st_uid, i, s, fds, &first, &firstname);
	close(dfd);
	return (rv);
}

/*
 * The certificates of the PEM file open on fd, at most max, into chain
 * (max 1 and a new stack, for the first only).  Returns how many were
 * read; *more tells that there were more.
 */
static int
read_certs(int fd, STACK_OF(X509) *chain, int max, int *more)
{
	X509	*x;
	BIO	*bio;
	char	*buf;
	size_t	 len;

	*more = 0;
	if (file_read_fd(fd, ACME_FILE_MAX, &buf, &len) == -1)
		return (0);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) !=
		    NULL) {
			if (sk_X509_num(chain) >= max ||
			    !sk_X509_push(chain, x)) {
				*more = 1;
				X509_free(x);
				break;
			}
		}
	BIO_free(bio);
	free(buf);
	return (sk_X509_num(chain));
}

/*
 * The first certificate of the PEM file open on fd, or NULL.
 */
static X509 *
read_cert(int fd)
{
	STACK_OF(X509)	*sk;
	X509		*x = NULL;
	int		 more;

	if ((sk = sk_X509_new_null()) == NULL)
		return (NULL);
	if (read_certs(fd, sk, 1, &more) == 1)
		x = sk_X509_pop(sk);
	sk_X509_free(sk);
	return (x);
}

/*
 * The private key in the file open on fd, or NULL.  Its text is wiped
 * from memory once decoded.
 */
static EVP_PKEY *
read_key(int fd)
{
	EVP_PKEY	*key = NULL;
	BIO		*bio;
	char		*buf;
	size_t		 len;

	if (file_read_fd(fd, ACME_FILE_MAX, &buf, &len) == -1)
		return (NULL);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return (key);
}

/*
 * Checks the set in dir, all but the chain's trust (acme_verify_store).
 * The result is in s; free it with acme_set_free.
 */
void
acme_check(const char *dir, struct acme_set *s)
{
	EVP_PKEY	*key = NULL;
	X509		*first = NULL;
	unsigned char	*der = NULL;
	size_t		 i;
	int		 fds[NFILES], derlen, more = 0;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NFILES; i++)
		fds[i] = -1;
	if (set_open_all(dir, s, fds) == -1)
		goto out;

	if ((s->cert = read_cert(fds[0])) == NULL) {
		set_state(s, ACME_WAIT, "cert.pem does not hold a certificate "
		    "(yet)");
		goto out;
	}
	if ((key = read_key(fds[3])) == NULL) {
		set_state(s, ACME_INVALID, "privkey.pem does not hold a "
		    "private key");
		goto out;
	}
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
	if ((first = read_cert(fds[2])) == NULL ||
	    X509_cmp(first, s->cert) != 0) {
		set_state(s, ACME_WAIT, "fullchain.pem does not start with "
		    "cert.pem (another renewal?)");
		goto out;
	}
	/*
	 * The chain's certificates are only candidates for the path to a
	 * CA of the bundles; beyond ACME_CHAIN_READ they are not read.
	 */
	if ((s->chain = sk_X509_new_null()) == NULL ||
	    read_certs(fds[1], s->chain, ACME_CHAIN_READ, &more) == 0) {
		set_state(s, ACME_INVALID, "chain.pem holds no certificate");
		goto out;
	}
	if (more)
		log_info("%s: chain.pem holds more than %d certificates; only "
		    "the first %d are read", dir, ACME_CHAIN_READ,
		    ACME_CHAIN_READ);

	if ((derlen = i2d_X509(s->cert, &der)) <= 0 ||
	    cert_fingerprint(der, (size_t)derlen, s->fp) == -1) {
		set_state(s, ACME_INVALID, "cert.pem cannot be encoded");
		goto out;
	}
	s->state = ACME_VALID;
	s->reason[0] = '\0';
out:
	for (i = 0; i < NFILES; i++)
		if (fds[i] != -1)
			close(fds[i]);
	ERR_clear_error();
	OPENSSL_free(der);
	X509_free(first);
	EVP_PKEY_free(key);
}

/*
 * The first notAfter of the verified chain (the leaf, the intermediates
 * and the CA of the bundles it ends at), and whose it is, into s.
 */
static void
chain_expiry(struct acme_set *s, STACK_OF(X509) *path)
{
	struct tm	 tm;
	X509		*x;
	char		*cn;
	time_t		 t;
	int		 i;

	s->expires = 0;
	for (i = 0; i < sk_X509_num(path); i++) {
		x = sk_X509_value(path, i);
		if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
			continue;
		t = timegm(&tm);
		if (s->expires != 0 && t >= s->expires)
			continue;
		s->expires = t;
		if (i == 0) {
			strlcpy(s->expiring, "the certificate",
			    sizeof(s->expiring));
			continue;
		}
		cn = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
		snprintf(s->expiring, sizeof(s->expiring), "the CA %s of its "
		    "chain", cn != NULL ? cn : "?");
		OPENSSL_free(cn);
	}
}

/*
 * Verifies a set that passed acme_check the way a client of sendmail
 * would: its chain.pem certificates as untrusted candidates, up to a CA
 * of trust (the CA bundles alone; where names them for the message).
 * The intermediates on the verified path that came from chain.pem, at
 * most ACME_PATH_MAX, go to s->path: only those may join cert_dir.  Turns
 * the state to ACME_INVALID when the chain does not verify.
 */
void
acme_verify(struct acme_set *s, X509_STORE *trust, const char *where)
{
	X509_STORE_CTX	*ctx = NULL;
	STACK_OF(X509)	*path;
	X509		*x;
	int		 err, i, j, n;

	if (s->state != ACME_VALID)
		return;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    (s->path = sk_X509_new_null()) == NULL ||
	    !X509_STORE_CTX_init(ctx, trust, s->cert, s->chain) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER)) {
		set_state(s, ACME_INVALID, "cannot set up verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		set_state(s, ACME_INVALID, "the chain does not verify up to "
		    "a CA in %s: %s", where,
		    X509_verify_cert_error_string(err));
		goto out;
	}
	/* The leaf first, the trust anchor (of the bundles) last. */
	path = X509_STORE_CTX_get0_chain(ctx);
	n = sk_X509_num(path);
	chain_expiry(s, path);
	for (i = 1; i < n - 1; i++) {
		x = sk_X509_value(path, i);
		for (j = 0; j < sk_X509_num(s->chain); j++)
			if (X509_cmp(x, sk_X509_value(s->chain, j)) == 0)
				break;
		if (j == sk_X509_num(s->chain))
			continue;	/* one of the bundles' own */
		if (sk_X509_num(s->path) == ACME_PATH_MAX) {
			set_state(s, ACME_INVALID, "the verified chain has "
			    "more than %d intermediates", ACME_PATH_MAX);
			goto out;
		}
		if (!X509_up_ref(x) || !sk_X509_push(s->path, x)) {
			X509_free(x);
			set_state(s, ACME_INVALID, "out of memory");
			goto out;
		}
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
}

void
acme_set_free(struct acme_set *s)
{
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	sk_X509_pop_free(s->path, X509_free);
	s->cert = NULL;
	s->chain = NULL;
	s->path = NULL;
}
