/*
 * The set of certificates: reads PEM bundles (files or memory) through
 * the PEM scanner, keeps each distinct certificate once, in a tree by
 * fingerprint, and decodes a certificate only when asked (cert_hash,
 * cert_x509).  The set keeps each bundle's text: the scanner decodes a
 * certificate's DER over its base64, and the certificate points there.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certset.h"
#include "file.h"
#include "log.h"
#include "pem.h"

#define BUNDLE_MAX	(256 * 1024 * 1024)	/* larger is not a bundle */

/* One bundle being read into a set. */
struct reading {
	struct certset	*set;
	const char	*name;
};

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
	SLIST_INIT(&set->srcs);
}

void
certset_free(struct certset *set)
{
	struct cert	*c, *next;
	struct certsrc	*src;

	RB_FOREACH_SAFE(c, certtree, &set->tree, next) {
		RB_REMOVE(certtree, &set->tree, c);
		free(c);
	}
	while ((src = SLIST_FIRST(&set->srcs)) != NULL) {
		SLIST_REMOVE_HEAD(&set->srcs, entry);
		free(src->text);
		free(src);
	}
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
 * SHA-256, fetched once: EVP_sha256() would be looked up again by every
 * digest (OpenSSL 3's implicit fetch, under a lock).
 */
static const EVP_MD *
sha256(void)
{
	static EVP_MD	*md;

	if (md == NULL && (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		log_ssl("SHA-256 unavailable");
	return (md);
}

/*
 * SHA-256 of buf into fp.  Returns 0, or -1 with a message logged.
 */
int
cert_fingerprint(const unsigned char *buf, size_t len, unsigned char *fp)
{
	const EVP_MD	*md;
	unsigned int	 n;

	if ((md = sha256()) == NULL)
		return (-1);
	if (!EVP_Digest(buf, len, fp, &n, md, NULL) || n != CERT_FPLEN) {
		log_ssl("SHA-256");
		return (-1);
	}
	return (0);
}

void
cert_fphex(const unsigned char *fp, char *hex)
{
	size_t	i;

	for (i = 0; i < CERT_FPLEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", fp[i]);
}

static int
hexval(char ch)
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

/*
 * What of der (n bytes decoded from a block) is kept, as OpenSSL reads
 * it: the certificate, and trust settings (X509_CERT_AUX) right after
 * it, which the CApath lookup (d2i_X509_AUX) reads under any label.
 * Other bytes after the certificate: d2i_X509 ignores them for a
 * CERTIFICATE block, and they are dropped (the lookup would fail on
 * them); d2i_X509_AUX refuses them for a TRUSTED CERTIFICATE block.
 * Bytes after the trust settings are ignored by both, and dropped.
 * Returns the length kept, with the certificate's in *certlen, or 0
 * when the block is refused.
 */
static size_t
der_keep(const unsigned char *der, size_t n, int trusted, size_t *certlen)
{
	const unsigned char	*p;
	X509_CERT_AUX		*aux;
	size_t			 len;

	if ((len = pem_der_len(der, n)) == 0)
		return (0);
	*certlen = len;
	if (len == n)
		return (len);
	p = der + len;
	if ((aux = d2i_X509_CERT_AUX(NULL, &p, (long)(n - len))) == NULL) {
		ERR_clear_error();
		return (trusted ? 0 : len);
	}
	X509_CERT_AUX_free(aux);
	return ((size_t)(p - der));
}

static const char *
cert_label(const struct cert *c)
{
	return (c->trusted ? "TRUSTED CERTIFICATE" : "CERTIFICATE");
}

/* c's id: its fingerprint, or the SHA-256 of its label and DER. */
static int
cert_setid(struct cert *c)
{
	EVP_MD_CTX	*ctx;
	const char	*label;
	unsigned int	 n;
	int		 ok;

	label = cert_label(c);
	if (!c->trusted && c->certlen == c->derlen) {
		memcpy(c->id, c->fp, CERT_FPLEN);
		return (0);
	}
	if (sha256() == NULL)
		return (-1);
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		log_ssl("SHA-256");
		return (-1);
	}
	ok = EVP_DigestInit_ex(ctx, sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, label, strlen(label) + 1) &&
	    EVP_DigestUpdate(ctx, c->der, c->derlen) &&
	    EVP_DigestFinal_ex(ctx, c->id, &n) && n == CERT_FPLEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		log_ssl("SHA-256");
	return (ok ? 0 : -1);
}

/* One certificate block of a bundle (pem_scan's callback). */
static int
read_block(void *arg, size_t line, int trusted, const unsigned char *der,
    size_t n)
{
	struct reading	*r = arg;
	struct cert	*c, *dup;
	size_t		 keep, certlen;

	if ((keep = der_keep(der, n, trusted, &certlen)) == 0) {
		log_warnx("%s:%zu: certificate is not valid DER "
		    "(damaged or truncated block)", r->name, line);
		return (-1);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s:%zu", r->name, line);
		return (-1);
	}
	c->der = der;
	c->derlen = keep;
	c->certlen = certlen;
	c->trusted = trusted;
	c->file = r->name;
	c->line = line;
	c->seq = r->set->count;
	if (cert_fingerprint(c->der, certlen, c->fp) == -1 ||
	    cert_setid(c) == -1) {
		free(c);
		return (-1);
	}
	if ((dup = RB_INSERT(certtree, &r->set->tree, c)) != NULL) {
		log_debug("%s:%zu: duplicate of the certificate at %s:%zu",
		    r->name, line, dup->file, dup->line);
		r->set->duplicates++;
		free(c);
		return (0);
	}
	r->set->count++;
	return (0);
}

/*
 * Reads every certificate in text (len bytes, named name in messages)
 * into set, which keeps text (allocated with malloc) either way.
 * Returns 0, or -1 when anything was wrong: a block that does not
 * decode, a block without end, no certificate at all.  What decoded is
 * added either way, and set->errors counts the problems.
 */
static int
read_text(struct certset *set, const char *name, char *text, size_t len)
{
	struct reading		 r;
	struct pem_stats	 st;
	struct certsrc		*src;
	size_t			 namelen;
	int			 isder;

	namelen = strlen(name) + 1;
	if ((src = malloc(sizeof(*src) + namelen)) == NULL) {
		log_warn("%s", name);
		free(text);
		set->errors++;
		return (-1);
	}
	memcpy(src->name, name, namelen);
	src->text = text;
	SLIST_INSERT_HEAD(&set->srcs, src, entry);
	r.set = set;
	r.name = src->name;
	/* Looked at before the scan, which decodes over the text. */
	isder = len >= 2 && (unsigned char)text[0] == 0x30 &&
	    (unsigned char)text[1] >= 0x80;
	pem_scan(r.name, text, len, read_block, &r, &st);
	set->keys += st.keys;
	if (st.blocks == 0 && st.errors == 0) {
		if (isder)
			log_warnx("%s: no PEM certificate found; it looks like "
			    "DER: convert it with openssl x509 -inform DER",
			    name);
		else
			log_warnx("%s: no PEM certificate found", name);
		st.errors++;
	}
	set->errors += st.errors;
	return (st.errors > 0 ? -1 : 0);
}

/*
 * Reads every certificate in buf (len bytes, named name in messages)
 * into set, as read_text does, from a copy of buf.
 */
int
certset_read_mem(struct certset *set, const char *name, const char *buf,
    size_t len)
{
	char	*text;

	if ((text = malloc(len + 1)) == NULL) {
		log_warn("%s", name);
		set->errors++;
		return (-1);
	}
	memcpy(text, buf, len);
	text[len] = '\0';	/* as file_read_fd leaves a file's text */
	return (read_text(set, name, text, len));
}

/*
 * Reads the PEM bundle at path into set.  Returns 0, or -1 after
 * logging why the bundle is missing, unreadable or damaged;
 * certificates that decoded are added either way.
 */
int
certset_read(struct certset *set, const char *path)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		log_warn("CA bundle %s", path);
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		log_warnx("CA bundle %s: is a directory, not a PEM file",
		    path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("CA bundle %s: not a regular file", path);
		goto fail;
	}
	if (file_read_fd(fd, BUNDLE_MAX, &buf, &len) == -1) {
		if (errno == EFBIG)
			log_warnx("CA bundle %s: larger than %d MiB, not a "
			    "CA bundle", path, BUNDLE_MAX >> 20);
		else
			log_warn("CA bundle %s: read", path);
		goto fail;
	}
	close(fd);
	if (len == 0) {
		log_warnx("CA bundle %s: empty file", path);
		free(buf);
		set->errors++;
		return (-1);
	}
	return (read_text(set, path, buf, len));
fail:
	if (fd != -1)
		close(fd);
	set->errors++;
	return (-1);
}

/*
 * c's certificate decoded, with its trust settings when aux is set;
 * NULL when it does not decode (logged).
 */
static X509 *
cert_decode(const struct cert *c, int aux)
{
	const unsigned char	*p;
	X509			*x;

	p = c->der;
	if (aux)
		x = d2i_X509_AUX(NULL, &p, (long)c->derlen);
	else
		x = d2i_X509(NULL, &p, (long)c->certlen);
	if (x == NULL)
		log_ssl("%s:%zu: certificate does not decode", c->file,
		    c->line);
	return (x);
}

/*
 * Computes the subject name hash (what openssl x509 -hash prints) into
 * c->hash, decoding the certificate the first time.  Returns 0, or -1
 * with a message naming where the certificate came from.
 */
int
cert_hash(struct cert *c)
{
	X509	*x;

	if (c->hashed)
		return (0);
	if ((x = cert_decode(c, 0)) == NULL)
		return (-1);
	c->hash = X509_subject_name_hash(x);
	c->hashed = 1;
	X509_free(x);
	return (0);
}

/*
 * c decoded in full, trust settings included, for verifying with it;
 * NULL when it does not decode (logged).
 */
X509 *
cert_x509(const struct cert *c)
{
	return (cert_decode(c, 1));
}

/*
 * The subject as one line, for messages; the caller frees it.
 */
char *
cert_subject(const struct cert *c)
{
	X509	*x;
	char	*s;

	if ((x = cert_decode(c, 0)) == NULL)
		return (strdup("(undecodable)"));
	s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	X509_free(x);
	return (s != NULL ? s : strdup("?"));
}

/*
 * The certificate as a PEM block (64 columns), its DER as it was read,
 * in a new buffer.  Returns 0, or -1 when out of memory (logged).
 */
int
cert_pem(const struct cert *c, char **out, size_t *outlen)
{
	BIO	*bio;
	BUF_MEM	*mem;
	int	 rv = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (PEM_write_bio(bio, cert_label(c), "", c->der, (long)c->derlen) <=
	    0)
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	if ((*out = malloc(mem->length)) == NULL)
		goto out;
	memcpy(*out, mem->data, mem->length);
	*outlen = mem->length;
	rv = 0;
out:
	if (rv == -1)
		log_ssl("%s:%zu: writing PEM", c->file, c->line);
	BIO_free(bio);
	return (rv);
}
