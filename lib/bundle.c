/*
 * PEM bundle reader.  Scans for CERTIFICATE and TRUSTED CERTIFICATE
 * blocks, ignoring everything between them (FreeBSD's ca-root-nss.crt
 * has a text dump before each block), base64-decodes each and keys it by
 * the SHA-256 fingerprint of the certificate.  Nothing is parsed as
 * X.509 here: that costs far more than reading the bundle, and the store
 * only needs it for certificates it has not seen before (cert_hash).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bundle.h"
#include "log.h"

#define BUNDLE_MAX	(256 * 1024 * 1024)	/* larger is not a bundle */

static int
cert_cmp(struct cert *a, struct cert *b)
{
	return (memcmp(a->fp, b->fp, CERT_FPLEN));
}

RB_GENERATE(certtree, cert, entry, cert_cmp)

void
certset_init(struct certset *set)
{
	memset(set, 0, sizeof(*set));
	RB_INIT(&set->tree);
}

void
certset_free(struct certset *set)
{
	struct cert	*c, *next;
	size_t		 i;

	RB_FOREACH_SAFE(c, certtree, &set->tree, next) {
		RB_REMOVE(certtree, &set->tree, c);
		free(c->der);
		free(c);
	}
	for (i = 0; i < set->nfiles; i++)
		free(set->files[i]);
	free(set->files);
	certset_init(set);
}

struct cert *
certset_find(struct certset *set, const unsigned char *fp)
{
	struct cert	key;

	memcpy(key.fp, fp, CERT_FPLEN);
	return (RB_FIND(certtree, &set->tree, &key));
}

/*
 * SHA-256 of buf into fp.  Returns 0, or -1 with a message logged.
 */
int
cert_fingerprint(const unsigned char *buf, size_t len, unsigned char *fp)
{
	static EVP_MD	*md;
	unsigned int	 n;

	if (md == NULL && (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		log_ssl("SHA-256 unavailable");
		return (-1);
	}
	if (!EVP_Digest(buf, len, fp, &n, md, NULL) || n != CERT_FPLEN) {
		log_ssl("SHA-256");
		return (-1);
	}
	return (0);
}

void
cert_fphex(const unsigned char *fp, char *hex)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < CERT_FPLEN; i++) {
		hex[2 * i] = digits[fp[i] >> 4];
		hex[2 * i + 1] = digits[fp[i] & 0xf];
	}
	hex[2 * CERT_FPLEN] = '\0';
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	return (-1);
}

/*
 * Parses 64 lower-case hex digits.  Returns 0, or -1 when malformed.
 */
int
cert_fpparse(const char *hex, unsigned char *fp)
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < CERT_FPLEN; i++) {
		if ((hi = hexval(hex[2 * i])) == -1 ||
		    (lo = hexval(hex[2 * i + 1])) == -1)
			return (-1);
		fp[i] = (unsigned char)(hi << 4 | lo);
	}
	return (0);
}

static const signed char	b64dec[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};

/*
 * Decodes base64 text, skipping white space.  Returns the number of
 * bytes written to out (which must hold len * 3 / 4 bytes), or -1 when
 * the text is not base64.
 */
static long
b64_decode(const char *s, size_t len, unsigned char *out)
{
	unsigned long	acc = 0;
	long		n = 0;
	int		bits = 0, pad = 0, v;
	size_t		i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64dec[ch]) == 0)
			return (-1);
		acc = (acc << 6) | (unsigned long)(v - 1);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6 || acc != 0)
		return (-1);
	return (n);
}

/*
 * Length of the DER element at the start of der (header included), or 0
 * when it is not a complete SEQUENCE.
 */
static size_t
der_seqlen(const unsigned char *der, size_t len)
{
	size_t	body, hdr, i, n;

	if (len < 2 || der[0] != 0x30)
		return (0);
	if (der[1] < 0x80) {
		body = der[1];
		hdr = 2;
	} else {
		n = der[1] & 0x7f;
		if (n == 0 || n > 4 || len < 2 + n)
			return (0);
		for (body = 0, i = 0; i < n; i++)
			body = body << 8 | der[2 + i];
		hdr = 2 + n;
	}
	if (body > len - hdr)
		return (0);
	return (hdr + body);
}

static const char *
intern(struct certset *set, const char *name)
{
	char	**files;

	if (set->nfiles > 0 && strcmp(set->files[set->nfiles - 1], name) == 0)
		return (set->files[set->nfiles - 1]);
	files = reallocarray(set->files, set->nfiles + 1, sizeof(*files));
	if (files == NULL)
		return (NULL);
	set->files = files;
	if ((files[set->nfiles] = strdup(name)) == NULL)
		return (NULL);
	return (files[set->nfiles++]);
}

/*
 * Adds one decoded block.  Returns 0, or -1 after logging a problem
 * that makes the bundle unreliable.
 */
static int
add_block(struct certset *set, const char *file, size_t line, int trusted,
    unsigned char *der, size_t derlen)
{
	struct cert	*c, *dup;
	size_t		 certlen;

	certlen = der_seqlen(der, derlen);
	if (certlen == 0 || (!trusted && certlen != derlen)) {
		log_warnx("%s:%zu: certificate is not valid DER "
		    "(damaged or truncated block)", file, line);
		return (-1);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", file);
		return (-1);
	}
	if (cert_fingerprint(der, certlen, c->fp) == -1) {
		free(c);
		return (-1);
	}
	if ((dup = RB_INSERT(certtree, &set->tree, c)) != NULL) {
		log_debug("%s:%zu: duplicate of the certificate at %s:%zu",
		    file, line, dup->file, dup->line);
		set->duplicates++;
		free(c);
		return (0);
	}
	if ((c->der = malloc(derlen)) == NULL ||
	    (c->file = intern(set, file)) == NULL) {
		log_warn("%s", file);
		RB_REMOVE(certtree, &set->tree, c);
		free(c->der);
		free(c);
		return (-1);
	}
	memcpy(c->der, der, derlen);
	c->derlen = derlen;
	c->trusted = trusted;
	c->line = line;
	set->count++;
	return (0);
}

static int
has_prefix(const char *s, const char *end, const char *prefix)
{
	size_t	n = strlen(prefix);

	return ((size_t)(end - s) >= n && memcmp(s, prefix, n) == 0);
}

/*
 * Reads every certificate in buf (len bytes, named name in messages)
 * into set.  Returns 0, or -1 when anything was wrong: a block that does
 * not decode, a block without end, no certificate at all.  What decoded
 * is added either way.
 */
int
bundle_read_mem(struct certset *set, const char *name, const char *buf,
    size_t len)
{
	const char	*p = buf, *end = buf + len, *eol, *label, *body;
	unsigned char	*der = NULL;
	size_t		 line = 0, start, found = 0, labellen;
	long		 n;
	int		 errors = 0, trusted;
	char		 endmark[80];

	while (p < end) {
		line++;
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		if (!has_prefix(p, eol, "-----BEGIN ")) {
			p = eol + 1;
			continue;
		}
		label = p + 11;
		for (labellen = 0; label + labellen + 5 <= eol &&
		    memcmp(label + labellen, "-----", 5) != 0; labellen++)
			;
		if (label + labellen + 5 > eol || labellen > 40) {
			p = eol + 1;
			continue;
		}
		start = line;
		trusted = 0;
		if (labellen == 11 && memcmp(label, "CERTIFICATE", 11) == 0)
			;
		else if (labellen == 19 &&
		    memcmp(label, "TRUSTED CERTIFICATE", 19) == 0)
			trusted = 1;
		else if (labellen >= 11 &&
		    memcmp(label + labellen - 11, "PRIVATE KEY", 11) == 0) {
			log_warnx("%s:%zu: a private key in a CA bundle: "
			    "ignored and never copied; remove it from the "
			    "bundle", name, line);
			set->keys++;
			p = eol + 1;
			continue;
		} else {
			log_debug("%s:%zu: skipping a %.*s block", name, line,
			    (int)labellen, label);
			p = eol + 1;
			continue;
		}
		snprintf(endmark, sizeof(endmark), "-----END %.*s-----",
		    (int)labellen, label);
		body = p = eol + 1;
		for (;;) {
			if (p >= end) {
				log_warnx("%s:%zu: certificate has no END "
				    "line (truncated file?)", name, start);
				errors++;
				goto done;
			}
			line++;
			if ((eol = memchr(p, '\n', end - p)) == NULL)
				eol = end;
			if (has_prefix(p, eol, "-----"))
				break;
			p = eol + 1;
		}
		if (has_prefix(p, eol, "-----BEGIN ")) {
			/* The block lost its end: read on from this line. */
			log_warnx("%s:%zu: certificate has no END line "
			    "before the next block at line %zu", name, start,
			    line);
			errors++;
			line--;
			continue;
		}
		if (!has_prefix(p, eol, endmark)) {
			log_warnx("%s:%zu: certificate ends at line %zu with "
			    "the wrong END line", name, start, line);
			errors++;
			p = eol + 1;
			continue;
		}
		free(der);
		if ((der = malloc((p - body) / 4 * 3 + 3)) == NULL) {
			log_warn("%s", name);
			errors++;
			goto done;
		}
		if ((n = b64_decode(body, p - body, der)) <= 0) {
			log_warnx("%s:%zu: certificate is not valid base64 "
			    "(damaged block)", name, start);
			errors++;
		} else if (add_block(set, name, start, trusted, der,
		    (size_t)n) == -1)
			errors++;
		else
			found++;
		p = eol + 1;
	}
done:
	free(der);
	if (found == 0 && errors == 0) {
		if (len >= 2 && (unsigned char)buf[0] == 0x30 &&
		    (unsigned char)buf[1] >= 0x80)
			log_warnx("%s: no PEM certificate found; it looks like "
			    "DER: convert it with openssl x509 -inform DER",
			    name);
		else
			log_warnx("%s: no PEM certificate found", name);
		errors++;
	}
	set->errors += errors;
	return (errors > 0 ? -1 : 0);
}

/*
 * Reads the PEM bundle at path into set.  Returns 0, or -1 after logging
 * why the bundle is missing, unreadable or damaged; certificates that
 * decoded are added either way, and set->errors counts the problems.
 */
int
bundle_read(struct certset *set, const char *path)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd, rv = -1;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY)) == -1) {
		log_warn("CA bundle %s", path);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("CA bundle %s", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		log_warnx("CA bundle %s: is a directory, not a PEM file",
		    path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("CA bundle %s: not a regular file", path);
		goto out;
	}
	if (st.st_size > BUNDLE_MAX) {
		log_warnx("CA bundle %s: larger than %d MiB, not a CA bundle",
		    path, BUNDLE_MAX >> 20);
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		log_warn("CA bundle %s", path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			char	*nbuf;

			if (cap >= BUNDLE_MAX ||
			    (nbuf = realloc(buf, cap * 2)) == NULL) {
				log_warnx("CA bundle %s: too large", path);
				goto out;
			}
			buf = nbuf;
			cap *= 2;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("CA bundle %s: read", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0) {
		log_warnx("CA bundle %s: empty file", path);
		goto out;
	}
	close(fd);
	fd = -1;
	rv = bundle_read_mem(set, path, buf, len);
	free(buf);
	return (rv);
out:
	if (fd != -1)
		close(fd);
	free(buf);
	set->errors++;
	return (rv);
}

/*
 * Computes the subject name hash (what openssl x509 -hash prints),
 * decoding the certificate.  Returns 0, or -1 with a message naming
 * where the certificate came from.
 */
int
cert_hash(struct cert *c)
{
	const unsigned char	*p = c->der;
	X509			*x;

	if (c->hashed)
		return (0);
	x = c->trusted ? d2i_X509_AUX(NULL, &p, (long)c->derlen) :
	    d2i_X509(NULL, &p, (long)c->derlen);
	if (x == NULL) {
		log_ssl("%s:%zu: certificate does not decode", c->file,
		    c->line);
		return (-1);
	}
	c->hash = X509_subject_name_hash(x);
	c->hashed = 1;
	X509_free(x);
	return (0);
}

/*
 * The subject as one line, for messages; the caller frees it.
 */
char *
cert_subject(const struct cert *c)
{
	const unsigned char	*p = c->der;
	X509			*x;
	char			*s;

	if ((x = d2i_X509_AUX(NULL, &p, (long)c->derlen)) == NULL)
		return (strdup("(undecodable)"));
	s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	X509_free(x);
	return (s != NULL ? s : strdup("?"));
}

/*
 * The certificate as a PEM block in a new buffer (64 columns).
 * Returns 0, or -1 when out of memory.
 */
int
cert_pem(const struct cert *c, char **out, size_t *outlen)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*label;
	const unsigned char	*s = c->der;
	size_t			 i, n, cap, col = 0;
	char			*buf, *d;
	unsigned long		 v;

	label = c->trusted ? "TRUSTED CERTIFICATE" : "CERTIFICATE";
	cap = 2 * (strlen(label) + 16) + (c->derlen + 2) / 3 * 4 +
	    c->derlen / 48 + 2;
	if ((buf = malloc(cap)) == NULL)
		return (-1);
	d = buf + sprintf(buf, "-----BEGIN %s-----\n", label);
	for (i = 0; i < c->derlen; i += 3) {
		n = c->derlen - i;
		v = (unsigned long)s[i] << 16;
		if (n > 1)
			v |= (unsigned long)s[i + 1] << 8;
		if (n > 2)
			v |= s[i + 2];
		*d++ = b64[v >> 18 & 63];
		*d++ = b64[v >> 12 & 63];
		*d++ = n > 1 ? b64[v >> 6 & 63] : '=';
		*d++ = n > 2 ? b64[v & 63] : '=';
		if ((col += 4) == 64) {
			*d++ = '\n';
			col = 0;
		}
	}
	if (col != 0)
		*d++ = '\n';
	d += sprintf(d, "-----END %s-----\n", label);
	*out = buf;
	*outlen = (size_t)(d - buf);
	return (0);
}
