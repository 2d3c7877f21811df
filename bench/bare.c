/*
 * bare: the lower bounds smtlsd is measured against.
 *
 * usage: bare [-ns] bundle dir
 *        bare -r [-d] bundle [dir]
 *
 * The first form reads a PEM bundle and, for every certificate block,
 * decodes the base64, decodes the certificate (d2i_X509), drops exact
 * duplicates (SHA-256 of the DER), computes X509_subject_name_hash and
 * writes the block as it stands to dir/<hash>.N.  No checks, no temp
 * files, no fsync, no index: the floor for any implementation that decodes
 * every certificate.  With -n it decodes only the subject name out of the
 * DER instead of the whole certificate (the floor for one that does not
 * need the rest).  With -s it then makes the files durable as smtlsd
 * does: one syncfs(2) on Linux, an fsync(2) per file elsewhere, then an
 * fsync of the directory.
 *
 * The second form only reads the bundle and computes the SHA-256 of every
 * PEM block's text, without decoding anything: the floor for a pass that
 * finds nothing changed.  With dir it also lists dir and calls lstat on
 * every entry: the floor for such a pass that also checks that the files
 * it wrote there are untouched.  With -d it decodes each block's base64
 * and takes the SHA-256 of the DER instead of the text's: the floor for
 * a pass that knows certificates by fingerprint and keeps no digest of
 * bundle text.  It prints the number of blocks.
 */

#ifdef __linux__
#define _GNU_SOURCE		/* syncfs */
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#define BEGIN_LINE	"-----BEGIN CERTIFICATE-----"
#define END_LINE	"-----END CERTIFICATE-----"

/* Open-addressed set of fingerprints, and counters per subject hash. */
struct fpset {
	unsigned char	(*fp)[SHA256_DIGEST_LENGTH];
	char		*used;
	size_t		 size, count;
};

struct hashcount {
	unsigned long	*hash;
	int		*next;		/* next free N, 0 for an empty slot */
	size_t		 size, count;
};

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: bare [-ns] bundle dir\n"
	    "       bare -r [-d] bundle [dir]\n");
	exit(2);
}

/* lstat of every entry of dir; returns how many. */
static size_t
stat_all(const char *dir)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 n = 0;

	if ((d = opendir(dir)) == NULL)
		err(1, "%s", dir);
	while ((de = readdir(d)) != NULL)
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			n++;
	closedir(d);
	return (n);
}

static char *
file_read(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	size_t		 off;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		err(1, "%s", path);
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		err(1, NULL);
	for (off = 0; off < (size_t)st.st_size; off += (size_t)n) {
		if ((n = read(fd, buf + off, (size_t)st.st_size - off)) == -1)
			err(1, "%s", path);
		if (n == 0)
			break;
	}
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return (buf);
}

/*
 * Finds the next certificate block at or after *pos.  Sets *start to the
 * BEGIN line, *body to the first base64 line, *bodyend to the END line and
 * *pos past the END line.  Returns 0 when there is no further block.
 */
static int
block_next(const char *buf, size_t len, size_t *pos, size_t *start,
    size_t *body, size_t *bodyend)
{
	const char	*p, *e, *nl;
	size_t		 bl, el;

	bl = sizeof(BEGIN_LINE) - 1;
	el = sizeof(END_LINE) - 1;
	p = buf + *pos;
	e = buf + len;
	/* Lines until a BEGIN line. */
	for (;;) {
		if ((size_t)(e - p) < bl)
			return (0);
		if (memcmp(p, BEGIN_LINE, bl) == 0)
			break;
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			return (0);
		p = nl + 1;
	}
	*start = (size_t)(p - buf);
	if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
		return (0);
	p = nl + 1;
	*body = (size_t)(p - buf);
	/* Lines until the END line. */
	for (;;) {
		if ((size_t)(e - p) < el)
			return (0);
		if (memcmp(p, END_LINE, el) == 0)
			break;
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			return (0);
		p = nl + 1;
	}
	*bodyend = (size_t)(p - buf);
	nl = memchr(p, '\n', (size_t)(e - p));
	*pos = nl == NULL ? len : (size_t)(nl + 1 - buf);
	return (1);
}

static size_t
slot_of(const unsigned char *key, size_t size)
{
	uint64_t	h;

	memcpy(&h, key, sizeof(h));
	return ((size_t)h & (size - 1));
}

/* Adds fp; returns 1 if it was new, 0 if it was already there. */
static int
fpset_add(struct fpset *s, const unsigned char *fp)
{
	struct fpset	 n;
	size_t		 i, j;

	if (2 * (s->count + 1) > s->size) {
		n.size = s->size == 0 ? 256 : 2 * s->size;
		n.count = 0;
		if ((n.fp = malloc(n.size * sizeof(*n.fp))) == NULL ||
		    (n.used = calloc(n.size, 1)) == NULL)
			err(1, NULL);
		for (j = 0; j < s->size; j++)
			if (s->used[j])
				fpset_add(&n, s->fp[j]);
		free(s->fp);
		free(s->used);
		*s = n;
	}
	for (i = slot_of(fp, s->size); s->used[i]; i = (i + 1) & (s->size - 1))
		if (memcmp(s->fp[i], fp, SHA256_DIGEST_LENGTH) == 0)
			return (0);
	memcpy(s->fp[i], fp, SHA256_DIGEST_LENGTH);
	s->used[i] = 1;
	s->count++;
	return (1);
}

/* Returns the next free N for subject hash h, and counts it. */
static int
hashcount_next(struct hashcount *c, unsigned long h)
{
	struct hashcount n;
	size_t		 i, j;

	if (2 * (c->count + 1) > c->size) {
		n.size = c->size == 0 ? 256 : 2 * c->size;
		n.count = 0;
		if ((n.hash = malloc(n.size * sizeof(*n.hash))) == NULL ||
		    (n.next = calloc(n.size, sizeof(*n.next))) == NULL)
			err(1, NULL);
		for (j = 0; j < c->size; j++) {
			if (c->next[j] == 0)
				continue;
			for (i = (c->hash[j] * 0x9e3779b1UL) & (n.size - 1);
			    n.next[i] != 0; i = (i + 1) & (n.size - 1))
				;
			n.hash[i] = c->hash[j];
			n.next[i] = c->next[j];
			n.count++;
		}
		free(c->hash);
		free(c->next);
		*c = n;
	}
	for (i = (h * 0x9e3779b1UL) & (c->size - 1); c->next[i] != 0;
	    i = (i + 1) & (c->size - 1))
		if (c->hash[i] == h)
			return (c->next[i]++ - 1);
	c->hash[i] = h;
	c->next[i] = 2;
	c->count++;
	return (0);
}

/*
 * Finds the subject Name inside a certificate's DER and decodes it alone.
 * Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version OPTIONAL, serial,
 * signature, issuer, validity, subject, ... } ... }
 */
static X509_NAME *
subject_only(const unsigned char *der, long len)
{
	const unsigned char	*p, *q, *end;
	long			 l;
	int			 tag, class, i, r;

	p = der;
	r = ASN1_get_object(&p, &l, &tag, &class, len);	/* Certificate */
	if (r & 0x80)
		return (NULL);
	end = p + l;
	r = ASN1_get_object(&p, &l, &tag, &class, end - p);	/* TBS */
	if (r & 0x80)
		return (NULL);
	end = p + l;
	for (i = 0; i < 5; i++) {
		q = p;
		r = ASN1_get_object(&q, &l, &tag, &class, end - p);
		if (r & 0x80)
			return (NULL);
		if (i == 0 && class != V_ASN1_CONTEXT_SPECIFIC)
			i++;		/* no version: this is the serial */
		p = q + l;
	}
	return (d2i_X509_NAME(NULL, &p, end - p));
}

int
main(int argc, char *argv[])
{
	struct fpset	 fps;
	struct hashcount hc;
	EVP_ENCODE_CTX	*ectx;
	X509		*x;
	X509_NAME	*nm;
	const unsigned char *dp;
	unsigned char	*der, md[SHA256_DIGEST_LENGTH], acc[SHA256_DIGEST_LENGTH];
	char		*buf, path[4096];
	size_t		 len, pos, start, body, bodyend, blocks, written;
	unsigned long	 h;
	int		 ch, rflag, nflag, dflag, sflag, dl, fl, fd, i;

	rflag = nflag = dflag = sflag = 0;
	while ((ch = getopt(argc, argv, "dnrs")) != -1) {
		switch (ch) {
		case 'd':
			dflag = 1;
			break;
		case 'n':
			nflag = 1;
			break;
		case 'r':
			rflag = 1;
			break;
		case 's':
			sflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (rflag ? argc > 2 || nflag || sflag : argc != 2 || dflag)
		usage();

	buf = file_read(argv[0], &len);
	memset(&fps, 0, sizeof(fps));
	memset(&hc, 0, sizeof(hc));
	memset(acc, 0, sizeof(acc));
	blocks = written = 0;
	if ((der = malloc(len / 4 * 3 + 64)) == NULL ||
	    (ectx = EVP_ENCODE_CTX_new()) == NULL)
		err(1, NULL);

	pos = 0;
	while (block_next(buf, len, &pos, &start, &body, &bodyend)) {
		blocks++;
		if (rflag && !dflag) {
			SHA256((unsigned char *)buf + start, pos - start, md);
			for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
				acc[i] ^= md[i];
			continue;
		}
		EVP_DecodeInit(ectx);
		if (EVP_DecodeUpdate(ectx, der, &dl,
		    (unsigned char *)buf + body, (int)(bodyend - body)) < 0 ||
		    EVP_DecodeFinal(ectx, der + dl, &fl) < 0) {
			warnx("block %zu: bad base64", blocks);
			continue;
		}
		dl += fl;
		SHA256(der, (size_t)dl, md);
		if (rflag) {
			for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
				acc[i] ^= md[i];
			continue;
		}
		if (!fpset_add(&fps, md))
			continue;
		dp = der;
		if (nflag) {
			if ((nm = subject_only(dp, dl)) == NULL) {
				warnx("block %zu: bad certificate", blocks);
				continue;
			}
			h = X509_NAME_hash_ex(nm, NULL, NULL, NULL);
			X509_NAME_free(nm);
		} else {
			if ((x = d2i_X509(NULL, &dp, dl)) == NULL) {
				warnx("block %zu: bad certificate", blocks);
				continue;
			}
			h = X509_subject_name_hash(x);
			X509_free(x);
		}
		snprintf(path, sizeof(path), "%s/%08lx.%d", argv[1], h,
		    hashcount_next(&hc, h));
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) ==
		    -1 || write(fd, buf + start, pos - start) !=
		    (ssize_t)(pos - start))
			err(1, "%s", path);
#ifndef __linux__
		if (sflag && fsync(fd) == -1)
			err(1, "%s: fsync", path);
#endif
		if (close(fd) == -1)
			err(1, "%s", path);
		written++;
	}
	if (sflag) {
		if ((fd = open(argv[1], O_RDONLY | O_DIRECTORY)) == -1)
			err(1, "%s", argv[1]);
#ifdef __linux__
		if (syncfs(fd) == -1)
			err(1, "%s: syncfs", argv[1]);
#endif
		if (fsync(fd) == -1)
			err(1, "%s: fsync", argv[1]);
		close(fd);
	}
	if (rflag && argc == 2)
		printf("%zu entries in %s\n", stat_all(argv[1]), argv[1]);
	if (rflag)
		printf("%zu blocks, xor of digests %02x%02x%02x%02x\n", blocks,
		    acc[0], acc[1], acc[2], acc[3]);
	else
		printf("%zu blocks, %zu files written\n", blocks, written);
	EVP_ENCODE_CTX_free(ectx);
	free(der);
	free(buf);
	return (0);
}
