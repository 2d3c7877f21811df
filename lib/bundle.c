/*
 * PEM bundle reader.  Scans for CERTIFICATE (or X509 CERTIFICATE) and
 * TRUSTED CERTIFICATE blocks, ignoring everything between them (FreeBSD's ca-root-nss.crt
 * has a text dump before each block), and keys each by the SHA-256
 * fingerprint of the certificate.  Nothing is parsed as X.509 here: that
 * costs far more than reading the bundle, and the store only needs it
 * for certificates it has not seen before (cert_hash).
 *
 * A bundle file is read in chunks and not kept in memory.  Each block's
 * base64 text is hashed (SHA-256); when the store's index knows that
 * text (certset.known) the block is not even decoded.  Otherwise it is
 * decoded, checked and fingerprinted, and its DER dropped.  Whenever the
 * DER is needed later (cert_der), the text is read again from the file,
 * which stays open: when it no longer has the digest it had, the bundle
 * changed meanwhile and the certificate is not used.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "bundle.h"
#include "log.h"

#define BUNDLE_MAX	(256 * 1024 * 1024)	/* larger is not a bundle */
#ifndef READ_CHUNK
#define READ_CHUNK	(128 * 1024)
#endif
#define SLAB_CERTS	128

struct certsrc {
	char	*name;
	int	 fd;		/* the blocks are read again from it, or -1 */
	size_t	 bad;		/* its certificates found bad */
};

/* Certificates are allocated in slabs, never one by one. */
struct certslab {
	struct certslab	*next;
	size_t		 used;
	struct cert	 certs[SLAB_CERTS];
};

/* The certificates by fingerprint, in a hash table. */
struct certslot {
	uint64_t	 key;		/* the first bytes of fp */
	struct cert	*c;
};

struct reader {
	struct certset	*set;
	struct certslot	*fresh;		/* added, not in the tree yet */
	size_t		 nfresh;
	size_t		 freshcap;
	struct certsrc	*src;
	EVP_MD_CTX	*md;		/* for text digests (files only) */
	unsigned char	*der;		/* decoding scratch */
	size_t		 dercap;
	size_t		 line;		/* lines read so far */
	size_t		 found;
	size_t		 errors;
	int		 stop;
};

enum {
	LOAD_OK,
	LOAD_FAILED,		/* unreadable, or the bundle changed */
	LOAD_WRONG		/* not the certificate the index named */
};

static uint64_t
load_be64(const unsigned char *p)
{
	return ((uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
	    (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
	    (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	    (uint64_t)p[6] << 8 | (uint64_t)p[7]);
}

/* memcmp's order, without calling it for the first eight bytes. */
static int
cert_cmp(struct cert *a, struct cert *b)
{
	uint64_t	x = load_be64(a->fp), y = load_be64(b->fp);

	if (x != y)
		return (x < y ? -1 : 1);
	return (memcmp(a->fp + 8, b->fp + 8, CERT_FPLEN - 8));
}

RB_GENERATE(certtree, cert, entry, cert_cmp)

void
certset_init(struct certset *set)
{
	memset(set, 0, sizeof(*set));
	RB_INIT(&set->tree);
	blockmap_init(&set->extra);
}

void
certset_free(struct certset *set)
{
	struct certslab	*s, *next;
	size_t		 i;

	for (s = set->slabs; s != NULL; s = next) {
		next = s->next;
		for (i = 0; i < s->used; i++)
			free(s->certs[i].der);
		free(s);
	}
	for (i = 0; i < set->nsrcs; i++) {
		if (set->srcs[i]->fd != -1)
			close(set->srcs[i]->fd);
		free(set->srcs[i]->name);
		free(set->srcs[i]);
	}
	free(set->srcs);
	free(set->byfp);
	blockmap_free(&set->extra);
	certset_init(set);
}

/*
 * How many certificates of set proved not to be what the store's index
 * said (cert_der).
 */
size_t
certset_bad(const struct certset *set)
{
	size_t	i, n = 0;

	for (i = 0; i < set->nsrcs; i++)
		n += set->srcs[i]->bad;
	return (n);
}

static struct cert *
byfp_find(const struct certset *set, const unsigned char *fp, uint64_t key)
{
	struct certslot	*sl;
	size_t		 i;

	if (set->fpsize == 0)
		return (NULL);
	for (i = (size_t)key & (set->fpsize - 1); (sl = &set->byfp[i])->c !=
	    NULL; i = (i + 1) & (set->fpsize - 1))
		if (sl->key == key &&
		    memcmp(sl->c->fp + 8, fp + 8, CERT_FPLEN - 8) == 0)
			return (sl->c);
	return (NULL);
}

static void
byfp_put(struct certslot *tab, size_t size, struct cert *c, uint64_t key)
{
	size_t	i;

	for (i = (size_t)key & (size - 1); tab[i].c != NULL;
	    i = (i + 1) & (size - 1))
		;
	tab[i].key = key;
	tab[i].c = c;
}

/* Room for one more certificate.  Returns 0, or -1 out of memory. */
static int
byfp_grow(struct certset *set)
{
	struct certslot	*tab;
	size_t		 size, i;

	if (4 * (set->count + 1) <= 3 * set->fpsize)
		return (0);
	size = set->fpsize == 0 ? 256 : 2 * set->fpsize;
	if ((tab = calloc(size, sizeof(*tab))) == NULL)
		return (-1);
	for (i = 0; i < set->fpsize; i++)
		if (set->byfp[i].c != NULL)
			byfp_put(tab, size, set->byfp[i].c, set->byfp[i].key);
	free(set->byfp);
	set->byfp = tab;
	set->fpsize = size;
	return (0);
}

struct cert *
certset_find(struct certset *set, const unsigned char *fp)
{
	return (byfp_find(set, fp, load_be64(fp)));
}

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

/* The same with a context kept for a whole bundle. */
static int
text_digest(EVP_MD_CTX *ctx, const char *buf, size_t len, unsigned char *td)
{
	const EVP_MD	*md;
	unsigned int	 n;

	if ((md = sha256()) == NULL)
		return (-1);
	if (!EVP_DigestInit_ex(ctx, md, NULL) ||
	    !EVP_DigestUpdate(ctx, buf, len) ||
	    !EVP_DigestFinal_ex(ctx, td, &n) || n != CERT_FPLEN) {
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

/*
 * Whether c is the certificate fp with the trust settings given: a
 * TRUSTED CERTIFICATE block when trusted, and when aux trust settings
 * after the certificate whose whole DER has the SHA-256 tid.
 */
int
cert_same(const struct cert *c, const unsigned char *fp, int trusted,
    int aux, const unsigned char *tid)
{
	return (memcmp(c->fp, fp, CERT_FPLEN) == 0 &&
	    !c->trusted == !trusted && !c->aux == !aux &&
	    (!aux || memcmp(c->tid, tid, CERT_FPLEN) == 0));
}

/* ---------------------------------------------------------- blockmap */

/*
 * An open-addressed hash table of certblocks keyed by (text digest,
 * trusted); the digests are uniform, so their first bytes are the hash.
 * Whether a slot is used, and how, is kept apart.
 */

void
blockmap_init(struct blockmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
blockmap_free(struct blockmap *m)
{
	free(m->slots);
	free(m->state);
	blockmap_init(m);
}

static size_t
td_slot(const unsigned char *td, size_t size)
{
	uint64_t	h;

	memcpy(&h, td, sizeof(h));
	return ((size_t)h & (size - 1));
}

/* The slot of (td, trusted), or the empty slot where it would go. */
static size_t
blockmap_slot(const struct blockmap *m, const unsigned char *td, int trusted)
{
	unsigned char	want = BLOCK_USED | (trusted ? BLOCK_TRUSTED : 0);
	size_t		i;

	for (i = td_slot(td, m->size); m->state[i] != 0;
	    i = (i + 1) & (m->size - 1))
		if ((m->state[i] & (BLOCK_USED | BLOCK_TRUSTED)) == want &&
		    memcmp(m->slots[i].td, td, CERT_FPLEN) == 0)
			break;
	return (i);
}

/*
 * The entry for the text td (a TRUSTED CERTIFICATE block when trusted),
 * or NULL.  An entry marked BLOCK_BAD is never found.
 */
struct certblock *
blockmap_find(const struct blockmap *m, const unsigned char *td, int trusted)
{
	size_t	i;

	if (m == NULL || m->count == 0)
		return (NULL);
	i = blockmap_slot(m, td, trusted);
	if (m->state[i] == 0 || (m->state[i] & BLOCK_BAD))
		return (NULL);
	return (&m->slots[i]);
}

/*
 * Makes room for n entries in all.  Returns 0, or -1 when out of memory.
 */
int
blockmap_reserve(struct blockmap *m, size_t n)
{
	struct blockmap	 nm;
	void		*mem;
	size_t		 i, j;

	/* At most three quarters full. */
	if (4 * n <= 3 * m->size)
		return (0);
	for (nm.size = 64; 4 * n > 3 * nm.size; nm.size *= 2)
		;
	if (posix_memalign(&mem, 64, nm.size * sizeof(*nm.slots)) != 0)
		return (-1);
	nm.slots = mem;
	if ((nm.state = calloc(nm.size, 1)) == NULL) {
		free(nm.slots);
		return (-1);
	}
	nm.count = m->count;
	for (i = 0; i < m->size; i++) {
		if (m->state[i] == 0)
			continue;
		for (j = td_slot(m->slots[i].td, nm.size); nm.state[j] != 0;
		    j = (j + 1) & (nm.size - 1))
			;
		nm.slots[j] = m->slots[i];
		nm.state[j] = m->state[i];
	}
	free(m->slots);
	free(m->state);
	*m = nm;
	return (0);
}

/*
 * Records that the text td holds the certificate fp, with trust
 * settings whose whole DER has the SHA-256 tid unless tid is NULL.
 * Returns 0, 1 when that text was there already (with what it had), or
 * -1 when out of memory.
 */
int
blockmap_add(struct blockmap *m, const unsigned char *td,
    const unsigned char *fp, int trusted, const unsigned char *tid)
{
	size_t	i;

	if (blockmap_reserve(m, m->count + 1) == -1)
		return (-1);
	i = blockmap_slot(m, td, trusted);
	if (m->state[i] != 0)
		return (1);
	memcpy(m->slots[i].td, td, CERT_FPLEN);
	memcpy(m->slots[i].fp, fp, CERT_FPLEN);
	m->state[i] = BLOCK_USED | (trusted ? BLOCK_TRUSTED : 0);
	if (tid != NULL) {
		memcpy(m->slots[i].tid, tid, CERT_FPLEN);
		m->state[i] |= BLOCK_AUX;
	}
	m->count++;
	return (0);
}

/* ----------------------------------------------------------- decoding */

#define B64_WS	0x80
#define B64_PAD	0x81

/* Value + 1 of each base64 digit; 0 for anything else. */
static const unsigned char	b64dec[256] = {
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
	[' '] = B64_WS, ['\t'] = B64_WS, ['\r'] = B64_WS, ['\n'] = B64_WS,
	['='] = B64_PAD,
};

/*
 * Decodes base64 text, skipping white space.  Returns the number of
 * bytes written to out (which must hold len * 3 / 4 bytes, and may be s
 * itself), or -1 when the text is not base64.  Whole groups of four
 * digits go at once; white space, padding and groups split across lines
 * a digit at a time.
 */
static long
b64_decode(const char *s, size_t len, unsigned char *out)
{
	const unsigned char	*u = (const unsigned char *)s;
	unsigned long		 acc = 0;
	unsigned int		 a, b, c, d, v;
	long			 n = 0;
	int			 bits = 0, pad = 0;
	size_t			 i = 0;

	while (i < len) {
		if (bits == 0 && pad == 0) {
			for (; i + 4 <= len; i += 4) {
				a = b64dec[u[i]] - 1U;
				b = b64dec[u[i + 1]] - 1U;
				c = b64dec[u[i + 2]] - 1U;
				d = b64dec[u[i + 3]] - 1U;
				if ((a | b | c | d) > 63)
					break;
				v = a << 18 | b << 12 | c << 6 | d;
				out[n] = (unsigned char)(v >> 16);
				out[n + 1] = (unsigned char)(v >> 8);
				out[n + 2] = (unsigned char)v;
				n += 3;
			}
			if (i == len)
				break;
		}
		v = b64dec[u[i++]];
		if (v == B64_WS)
			continue;
		if (v == B64_PAD) {
			pad++;
			continue;
		}
		if (pad > 0 || v == 0)
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

	if ((len = der_seqlen(der, n)) == 0)
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

/* ------------------------------------------------------------ reading */

static struct certsrc *
src_add(struct certset *set, const char *name, int fd)
{
	struct certsrc	**srcs, *src;

	if (fd == -1 && set->nsrcs > 0 && set->srcs[set->nsrcs - 1]->fd == -1 &&
	    strcmp(set->srcs[set->nsrcs - 1]->name, name) == 0)
		return (set->srcs[set->nsrcs - 1]);
	srcs = reallocarray(set->srcs, set->nsrcs + 1, sizeof(*srcs));
	if (srcs == NULL)
		return (NULL);
	set->srcs = srcs;
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return (NULL);
	if ((src->name = strdup(name)) == NULL) {
		free(src);
		return (NULL);
	}
	src->fd = fd;
	srcs[set->nsrcs++] = src;
	return (src);
}

/* A cleared certificate at the end of the last slab, not yet counted. */
static struct cert *
cert_slot(struct certset *set)
{
	struct certslab	*s = set->slabs;
	struct cert	*c;

	if (s == NULL || s->used == SLAB_CERTS) {
		if ((s = malloc(sizeof(*s))) == NULL)
			return (NULL);
		s->next = set->slabs;
		s->used = 0;
		set->slabs = s;
	}
	c = &s->certs[s->used];
	memset(c, 0, sizeof(*c));
	return (c);
}

/*
 * Adds a block that holds the certificate fp, unless it is a duplicate;
 * tid, unless NULL, is the SHA-256 of the block's whole DER, which holds
 * trust settings after the certificate.  der (derlen bytes) is kept when
 * not NULL; cached: fp and tid are what the index says the block holds.
 * The certificate joins the tree later (add_fresh).  Returns 0, or -1
 * after logging.
 */
static int
add_cert(struct reader *r, const unsigned char *fp, const unsigned char *td,
    int trusted, const unsigned char *tid, size_t line, off_t off,
    size_t textlen, const unsigned char *der, size_t derlen, int cached)
{
	struct certset	*set = r->set;
	struct cert	*c, *dup;
	struct certslot	*fresh;
	uint64_t	 key = load_be64(fp);
	size_t		 cap;
	int		 file = r->src->fd != -1;

	if ((dup = byfp_find(set, fp, key)) != NULL) {
		/*
		 * Before a block is dropped for a certificate known only by
		 * the index's word, that word is checked: when a damaged
		 * index is wrong, the store's pass fails once, naming the
		 * block, rather than lose this certificate.
		 */
		if (dup->cached) {
			if (cert_der(dup) == 0)
				cert_der_drop(dup);
			dup->cached = 0;
		}
		log_debug("%s:%zu: duplicate of the certificate at %s:%zu",
		    r->src->name, line, dup->file, dup->line);
		set->duplicates++;
		/* Its text too is known next time (only a cache: no error). */
		if (file && (dup->src == NULL || dup->trusted != trusted ||
		    memcmp(dup->td, td, CERT_FPLEN) != 0))
			(void)blockmap_add(&set->extra, td, fp, trusted, tid);
		return (0);
	}
	if (r->nfresh == r->freshcap) {
		cap = r->freshcap == 0 ? 256 : 2 * r->freshcap;
		if ((fresh = reallocarray(r->fresh, cap, sizeof(*fresh))) ==
		    NULL) {
			log_warn("%s", r->src->name);
			return (-1);
		}
		r->fresh = fresh;
		r->freshcap = cap;
	}
	if (byfp_grow(set) == -1 || (c = cert_slot(set)) == NULL) {
		log_warn("%s", r->src->name);
		return (-1);
	}
	if (der != NULL) {
		if ((c->der = malloc(derlen)) == NULL) {
			log_warn("%s", r->src->name);
			return (-1);
		}
		memcpy(c->der, der, derlen);
		c->derlen = derlen;
	}
	memcpy(c->fp, fp, CERT_FPLEN);
	c->trusted = trusted;
	if (tid != NULL) {
		memcpy(c->tid, tid, CERT_FPLEN);
		c->aux = 1;
	}
	c->cached = cached;
	c->seq = set->count;
	c->file = r->src->name;
	c->line = line;
	if (file) {
		memcpy(c->td, td, CERT_FPLEN);
		c->src = r->src;
		c->off = off;
		c->textlen = textlen;
		set->fromfiles++;
	}
	byfp_put(set->byfp, set->fpsize, c, key);
	r->fresh[r->nfresh].key = key;
	r->fresh[r->nfresh++].c = c;
	set->slabs->used++;
	set->count++;
	return (0);
}

static int
fresh_cmp(const void *a, const void *b)
{
	const struct certslot	*x = a, *y = b;

	if (x->key != y->key)
		return (x->key < y->key ? -1 : 1);
	return (cert_cmp(x->c, y->c));
}

/*
 * The certificates added join the tree, in order: each insertion then
 * walks where the one before did, which the cache still holds.
 */
static void
add_fresh(struct reader *r)
{
	size_t	i;

	if (r->nfresh > 1)
		qsort(r->fresh, r->nfresh, sizeof(*r->fresh), fresh_cmp);
	for (i = 0; i < r->nfresh; i++)
		RB_INSERT(certtree, &r->set->tree, r->fresh[i].c);
	free(r->fresh);
	r->fresh = NULL;
	r->nfresh = r->freshcap = 0;
}

/*
 * One CERTIFICATE (TRUSTED CERTIFICATE when trusted) block whose base64
 * text, len bytes at offset off of the bundle, follows the BEGIN line at
 * line.  Returns 0, or -1 after logging what is wrong with it.
 */
static int
read_block(struct reader *r, int trusted, const char *text, size_t len,
    off_t off, size_t line)
{
	struct certset		*set = r->set;
	struct certblock	*b;
	unsigned char		 td[CERT_FPLEN], fp[CERT_FPLEN], *der;
	unsigned char		 tid[CERT_FPLEN];
	size_t			 certlen, keep;
	long			 n;
	int			 file = r->src->fd != -1, aux;

	if (file) {
		if (text_digest(r->md, text, len, td) == -1)
			return (-1);
		/*
		 * A block the index knows, unless it would be dropped as a
		 * duplicate on the index's word alone: a damaged index
		 * must not take a certificate out of the store.
		 */
		if ((b = blockmap_find(set->known, td, trusted)) != NULL &&
		    byfp_find(set, b->fp, load_be64(b->fp)) == NULL)
			return (add_cert(r, b->fp, td, trusted,
			    (BLOCKMAP_STATE(set->known, b) & BLOCK_AUX) ?
			    b->tid : NULL, line, off, len, NULL, 0, 1));
	}
	if (len / 4 * 3 + 3 > r->dercap) {
		if ((der = realloc(r->der, len / 4 * 3 + 3)) == NULL) {
			log_warn("%s", r->src->name);
			return (-1);
		}
		r->der = der;
		r->dercap = len / 4 * 3 + 3;
	}
	if ((n = b64_decode(text, len, r->der)) <= 0) {
		log_warnx("%s:%zu: certificate is not valid base64 "
		    "(damaged block)", r->src->name, line);
		return (-1);
	}
	if ((keep = der_keep(r->der, (size_t)n, trusted, &certlen)) == 0) {
		log_warnx("%s:%zu: certificate is not valid DER "
		    "(damaged or truncated block)", r->src->name, line);
		return (-1);
	}
	if (cert_fingerprint(r->der, certlen, fp) == -1)
		return (-1);
	/* Trust settings after it: part of what the block holds. */
	if ((aux = certlen != keep) &&
	    cert_fingerprint(r->der, keep, tid) == -1)
		return (-1);
	if (file) {
		set->decoded++;
		return (add_cert(r, fp, td, trusted, aux ? tid : NULL, line,
		    off, len, NULL, 0, 0));
	}
	return (add_cert(r, fp, NULL, trusted, aux ? tid : NULL, line, 0, len,
	    r->der, keep, 0));
}

static const char *
next_line(const char *eol, const char *end)
{
	return (eol < end ? eol + 1 : end);
}

/*
 * The length of the line s to eol without what OpenSSL's PEM reader
 * strips from its end (every byte up to the space: white space, CR,
 * control characters).
 */
static size_t
line_len(const char *s, const char *eol)
{
	while (eol > s && (unsigned char)eol[-1] <= ' ')
		eol--;
	return ((size_t)(eol - s));
}

/*
 * Why OpenSSL's PEM reader (PEM_read_bio, get_header_and_data) refuses
 * a block for its body line s to eol, or NULL.  *st is 0 before the
 * first line, then 1; 2 after a blank first line, when the lines must be
 * 64 characters, but the last; 3 after that shorter one.
 */
static const char *
body_rule(int *st, const char *s, const char *eol)
{
	size_t	len = line_len(s, eol);
	int	first = *st == 0;

	if (*st == 0)
		*st = 1;
	if (len == 0) {
		if (!first)
			return ("a blank line inside the base64 (OpenSSL "
			    "reads the lines before it as a header)");
		*st = 2;
		return (NULL);
	}
	if (*st == 1 && memchr(s, ':', len) != NULL)
		return ("a header line (OpenSSL reads it as an encrypted "
		    "block's)");
	if (*st == 3 || (*st == 2 && len > 64))
		return ("after a blank line, base64 lines that are not of 64 "
		    "characters, the last one shorter");
	if (*st == 2 && len < 64)
		*st = 3;
	return (NULL);
}

/*
 * Reads the blocks in buf[0, len), which starts a line at offset off of
 * the bundle.  Unless final (nothing follows), stops before a line or a
 * block that may go on after len.  Returns how many bytes it read.
 */
static size_t
read_text(struct reader *r, const char *buf, size_t len, off_t off,
    int final)
{
	const char	*p = buf, *end = buf + len, *eol, *label, *q, *qeol;
	const char	*name = r->src->name, *why;
	size_t		 line, start, labellen, whyline;
	int		 trusted, st;

	while (p < end && !r->stop) {
		line = r->line;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			if (!final)
				break;
			eol = end;
		}
		r->line++;
		/* OpenSSL skips a UTF-8 byte order mark before the first. */
		if (line == 0 && eol - p >= 3 &&
		    memcmp(p, "\357\273\277", 3) == 0)
			p += 3;
		if (eol - p < 11 || p[0] != '-' ||
		    memcmp(p, "-----BEGIN ", 11) != 0) {
			p = next_line(eol, end);
			continue;
		}
		label = p + 11;
		for (labellen = 0; label + labellen + 5 <= eol &&
		    (label[labellen] != '-' ||
		    memcmp(label + labellen, "-----", 5) != 0); labellen++)
			;
		if (label + labellen + 5 > eol || labellen > 40) {
			p = next_line(eol, end);
			continue;
		}
		start = r->line;
		trusted = 0;
		/* The labels OpenSSL's PEM reader takes for certificates. */
		if ((labellen == 11 && memcmp(label, "CERTIFICATE", 11) == 0) ||
		    (labellen == 16 &&
		    memcmp(label, "X509 CERTIFICATE", 16) == 0))
			;
		else if (labellen == 19 &&
		    memcmp(label, "TRUSTED CERTIFICATE", 19) == 0)
			trusted = 1;
		else if (labellen >= 11 &&
		    memcmp(label + labellen - 11, "PRIVATE KEY", 11) == 0) {
			log_warnx("%s:%zu: a private key in a CA bundle: "
			    "ignored and never copied; remove it from the "
			    "bundle", name, start);
			r->set->keys++;
			p = next_line(eol, end);
			continue;
		} else if (labellen == 8 && memcmp(label, "X509 CRL", 8) == 0) {
			log_warnx("%s:%zu: a CRL (X509 CRL block): not copied "
			    "to the CA directory, which smtlsd keeps for "
			    "certificates only; OpenSSL's CRL checking does "
			    "not see it there", name, start);
			p = next_line(eol, end);
			continue;
		} else {
			log_debug("%s:%zu: skipping a %.*s block", name, start,
			    (int)labellen, label);
			p = next_line(eol, end);
			continue;
		}

		/* OpenSSL takes no BEGIN line with more after its dashes. */
		if (line_len(p, eol) != (size_t)(label + labellen + 5 - p)) {
			log_warnx("%s:%zu: text after -----BEGIN %.*s----- on "
			    "its line: OpenSSL's PEM reader refuses this "
			    "block", name, start, (int)labellen, label);
			r->errors++;
			p = next_line(eol, end);
			continue;
		}

		/* The block's lines, up to one that starts with dashes. */
		why = NULL;
		whyline = 0;
		st = 0;
		q = next_line(eol, end);
		for (;;) {
			if (q >= end) {
				if (!final)
					goto more;
				log_warnx("%s:%zu: certificate has no END "
				    "line (truncated file?)", name, start);
				r->errors++;
				r->stop = 1;
				return (len);
			}
			r->line++;
			if ((qeol = memchr(q, '\n', (size_t)(end - q))) ==
			    NULL) {
				if (!final)
					goto more;
				qeol = end;
			}
			if (qeol - q >= 5 && q[0] == '-' &&
			    memcmp(q, "-----", 5) == 0)
				break;
			if (why == NULL &&
			    (why = body_rule(&st, q, qeol)) != NULL)
				whyline = r->line;
			q = next_line(qeol, end);
		}
		if (qeol - q >= 11 && memcmp(q, "-----BEGIN ", 11) == 0) {
			/* The block lost its end: read on from this line. */
			log_warnx("%s:%zu: certificate has no END line "
			    "before the next block at line %zu", name, start,
			    r->line);
			r->errors++;
			r->line--;
			p = q;
			continue;
		}
		if ((size_t)(qeol - q) < 14 + labellen ||
		    memcmp(q, "-----END ", 9) != 0 ||
		    memcmp(q + 9, label, labellen) != 0 ||
		    memcmp(q + 9 + labellen, "-----", 5) != 0) {
			log_warnx("%s:%zu: certificate ends at line %zu with "
			    "the wrong END line", name, start, r->line);
			r->errors++;
			p = next_line(qeol, end);
			continue;
		}
		if (line_len(q, qeol) != 14 + labellen) {
			log_warnx("%s:%zu: text after -----END %.*s----- on "
			    "its line: OpenSSL's PEM reader refuses the block "
			    "begun at line %zu", name, r->line,
			    (int)labellen, label, start);
			r->errors++;
			p = next_line(qeol, end);
			continue;
		}
		if (why != NULL) {
			log_warnx("%s:%zu: %s: OpenSSL's PEM reader refuses "
			    "the block begun at line %zu", name, whyline, why,
			    start);
			r->errors++;
			p = next_line(qeol, end);
			continue;
		}
		if (read_block(r, trusted, eol + 1, (size_t)(q - (eol + 1)),
		    off + (eol + 1 - buf), start) == -1)
			r->errors++;
		else
			r->found++;
		p = next_line(qeol, end);
	}
	return ((size_t)(p - buf));
more:
	/* Again from the BEGIN line once more text is there. */
	r->line = line;
	return ((size_t)(p - buf));
}

/*
 * The end of a bundle whose first bytes are head (headlen of them).
 * Returns 0, or -1 when anything was wrong, or no certificate found.
 */
static int
read_end(struct reader *r, const unsigned char *head, size_t headlen)
{
	if (r->found == 0 && r->errors == 0) {
		if (headlen >= 2 && head[0] == 0x30 && head[1] >= 0x80)
			log_warnx("%s: no PEM certificate found; it looks like "
			    "DER: convert it with openssl x509 -inform DER",
			    r->src->name);
		else
			log_warnx("%s: no PEM certificate found",
			    r->src->name);
		r->errors++;
	}
	add_fresh(r);
	free(r->der);
	r->der = NULL;
	r->set->errors += r->errors;
	return (r->errors > 0 ? -1 : 0);
}

/*
 * Reads every certificate in buf (len bytes, named name in messages)
 * into set; they keep their DER.  Returns 0, or -1 when anything was
 * wrong: a block that does not decode, a block without end, no
 * certificate at all.  What decoded is added either way.
 */
int
bundle_read_mem(struct certset *set, const char *name, const char *buf,
    size_t len)
{
	struct reader	r;

	memset(&r, 0, sizeof(r));
	r.set = set;
	if ((r.src = src_add(set, name, -1)) == NULL) {
		log_warn("%s", name);
		set->errors++;
		return (-1);
	}
	read_text(&r, buf, len, 0, 1);
	return (read_end(&r, (const unsigned char *)buf, len));
}

/*
 * Reads the PEM bundle at path into set; the file stays open until
 * certset_free, for cert_der.  Returns 0, or -1 after logging why the
 * bundle is missing, unreadable or damaged; certificates that decoded
 * are added either way, and set->errors counts the problems.
 */
int
bundle_read(struct certset *set, const char *path)
{
	struct reader	 r;
	struct stat	 st;
	unsigned char	 head[2];
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, cap, used, total = 0, headlen = 0;
	off_t		 off = 0;
	ssize_t		 n;
	int		 fd, eof = 0;

	memset(&r, 0, sizeof(r));
	r.set = set;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		log_warn("CA bundle %s", path);
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
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
	if (st.st_size > BUNDLE_MAX) {
		log_warnx("CA bundle %s: larger than %d MiB, not a CA bundle",
		    path, BUNDLE_MAX >> 20);
		goto fail;
	}
	if ((r.src = src_add(set, path, fd)) == NULL) {
		log_warn("CA bundle %s", path);
		goto fail;
	}
	fd = -1;		/* the set's now */
	cap = (size_t)st.st_size < READ_CHUNK ? (size_t)st.st_size + 1 :
	    READ_CHUNK;
	if ((buf = malloc(cap)) == NULL || (r.md = EVP_MD_CTX_new()) == NULL) {
		log_warn("CA bundle %s", path);
		goto fail;
	}
	for (;;) {
		while (!eof && len < cap) {
			if ((n = read(r.src->fd, buf + len, cap - len)) == -1) {
				if (errno == EINTR)
					continue;
				log_warn("CA bundle %s: read", path);
				goto fail;
			}
			if (n == 0)
				eof = 1;
			len += (size_t)n;
			total += (size_t)n;
			if (total > BUNDLE_MAX) {
				log_warnx("CA bundle %s: too large", path);
				goto fail;
			}
		}
		if (total == 0) {
			log_warnx("CA bundle %s: empty file", path);
			goto fail;
		}
		if (off == 0 && headlen == 0) {
			headlen = len < 2 ? len : 2;
			memcpy(head, buf, headlen);
		}
		used = read_text(&r, buf, len, off, eof);
		if (eof || r.stop)
			break;
		memmove(buf, buf + used, len - used);
		len -= used;
		off += (off_t)used;
		if (len == cap) {
			/* A line or a block longer than the buffer. */
			if ((nbuf = realloc(buf, cap * 2)) == NULL) {
				log_warn("CA bundle %s", path);
				goto fail;
			}
			buf = nbuf;
			cap *= 2;
		}
	}
	free(buf);
	EVP_MD_CTX_free(r.md);
	return (read_end(&r, head, headlen));
fail:
	if (fd != -1)
		close(fd);
	add_fresh(&r);
	free(buf);
	free(r.der);
	EVP_MD_CTX_free(r.md);
	set->errors += r.errors + 1;
	return (-1);
}

/* --------------------------------------------------------- using DER */

/*
 * Reads c's block again from its bundle and decodes it into a new
 * buffer *derp (*lenp bytes).  Returns LOAD_OK, or LOAD_FAILED or
 * LOAD_WRONG after logging why, naming where the certificate came from.
 */
static int
der_load(const struct cert *c, unsigned char **derp, size_t *lenp)
{
	unsigned char	*buf, td[CERT_FPLEN], fp[CERT_FPLEN], *nbuf;
	unsigned char	 tid[CERT_FPLEN];
	size_t		 got = 0, certlen, keep = 0;
	ssize_t		 n;
	long		 len;

	if (c->src == NULL || c->src->fd == -1) {
		log_warnx("%s:%zu: certificate is gone", c->file, c->line);
		return (LOAD_FAILED);
	}
	if ((buf = malloc(c->textlen + 1)) == NULL) {
		log_warn("%s:%zu", c->file, c->line);
		return (LOAD_FAILED);
	}
	while (got < c->textlen) {
		n = pread(c->src->fd, buf + got, c->textlen - got,
		    c->off + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s:%zu: reading the certificate again",
			    c->file, c->line);
			free(buf);
			return (LOAD_FAILED);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != c->textlen ||
	    cert_fingerprint(buf, c->textlen, td) == -1 ||
	    memcmp(td, c->td, CERT_FPLEN) != 0) {
		log_warnx("%s:%zu: the bundle changed while smtlsd was "
		    "reading it; this certificate is left for the next pass",
		    c->file, c->line);
		free(buf);
		return (LOAD_FAILED);
	}
	if ((len = b64_decode((char *)buf, c->textlen, buf)) <= 0 ||
	    (keep = der_keep(buf, (size_t)len, c->trusted, &certlen)) == 0 ||
	    cert_fingerprint(buf, certlen, fp) == -1 ||
	    memcmp(fp, c->fp, CERT_FPLEN) != 0 ||
	    !c->aux != (certlen == keep) || (c->aux &&
	    (cert_fingerprint(buf, keep, tid) == -1 ||
	    memcmp(tid, c->tid, CERT_FPLEN) != 0))) {
		log_warnx("%s:%zu: this block does not hold the certificate "
		    "the index of cert_dir says it does (damaged index?); "
		    "the index forgets it, the next pass decodes it",
		    c->file, c->line);
		free(buf);
		return (LOAD_WRONG);
	}
	if ((nbuf = realloc(buf, keep)) != NULL)
		buf = nbuf;
	*derp = buf;
	*lenp = keep;
	return (LOAD_OK);
}

/*
 * Makes c->der and c->derlen valid, reading the block again from its
 * bundle when needed.  Returns 0, or -1 with a message naming where the
 * certificate came from.
 */
int
cert_der(struct cert *c)
{
	unsigned char	*der;
	size_t		 len;
	int		 rv;

	if (c->der != NULL)
		return (0);
	if ((rv = der_load(c, &der, &len)) != LOAD_OK) {
		if (rv == LOAD_WRONG && !c->bad) {
			c->bad = 1;
			c->src->bad++;
		}
		return (-1);
	}
	c->der = der;
	c->derlen = len;
	return (0);
}

/*
 * c decoded in full, public key and trust settings included, for
 * verifying with it; NULL when it cannot be read (logged).
 */
X509 *
cert_x509(struct cert *c)
{
	const unsigned char	*p;
	X509			*x;
	int			 loaded;

	loaded = c->der == NULL;
	if (cert_der(c) == -1)
		return (NULL);
	p = c->der;
	x = c->trusted || c->aux ? d2i_X509_AUX(NULL, &p, (long)c->derlen) :
	    d2i_X509(NULL, &p, (long)c->derlen);
	if (x == NULL)
		log_ssl("%s:%zu: certificate does not decode", c->file,
		    c->line);
	if (loaded)
		cert_der_drop(c);
	return (x);
}

/*
 * Frees c's DER when it can be read again (cert_der).
 */
void
cert_der_drop(struct cert *c)
{
	if (c->src == NULL)
		return;
	free(c->der);
	c->der = NULL;
	c->derlen = 0;
}

/*
 * c's DER: c->der, or a new buffer in *tmp.  Returns NULL after logging
 * when it cannot be read.
 */
static const unsigned char *
der_get(const struct cert *c, size_t *lenp, unsigned char **tmp)
{
	*tmp = NULL;
	if (c->der != NULL) {
		*lenp = c->derlen;
		return (c->der);
	}
	if (der_load(c, tmp, lenp) != LOAD_OK)
		return (NULL);
	return (*tmp);
}

/*
 * A library context with no algorithm at all (only the null provider),
 * or NULL when it cannot be made.  Decoding a certificate in it skips
 * the decoding of its public key, which d2i_X509 attempts only
 * opportunistically (a key that does not decode is no error) and which
 * costs OpenSSL 3 most of the time of decoding a certificate.
 */
static OSSL_LIB_CTX *
keyless_ctx(void)
{
	static OSSL_LIB_CTX	*ctx;
	static int		 tried;

	if (!tried) {
		tried = 1;
		if ((ctx = OSSL_LIB_CTX_new()) != NULL &&
		    OSSL_PROVIDER_load(ctx, "null") == NULL) {
			OSSL_LIB_CTX_free(ctx);
			ctx = NULL;
		}
		ERR_clear_error();
	}
	return (ctx);
}

/*
 * Decodes der (len bytes) as d2i_X509, or d2i_X509_AUX when trusted,
 * would, without the public key.  Returns the certificate or NULL.
 */
static X509 *
cert_decode(const unsigned char *der, size_t len, int trusted)
{
	const unsigned char	*p = der;
	X509_CERT_AUX		*aux;
	X509			*x;

	x = (X509 *)ASN1_item_d2i_ex(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(X509), keyless_ctx(), NULL);
	if (x == NULL || !trusted || p == der + len)
		return (x);
	/* The trust settings after it must decode too. */
	if ((aux = d2i_X509_CERT_AUX(NULL, &p, (long)(der + len - p))) ==
	    NULL) {
		X509_free(x);
		return (NULL);
	}
	X509_CERT_AUX_free(aux);
	return (x);
}

/*
 * Computes the subject name hash (what openssl x509 -hash prints),
 * decoding the certificate.  Returns 0, or -1 with a message naming
 * where the certificate came from.
 */
int
cert_hash(struct cert *c)
{
	X509	*x;
	int	 loaded;

	if (c->hashed)
		return (0);
	loaded = c->der == NULL;
	if (cert_der(c) == -1)
		return (-1);
	if ((x = cert_decode(c->der, c->derlen, c->trusted)) == NULL)
		log_ssl("%s:%zu: certificate does not decode", c->file,
		    c->line);
	else {
		c->hash = X509_subject_name_hash(x);
		c->hashed = 1;
		X509_free(x);
	}
	if (loaded)
		cert_der_drop(c);
	return (c->hashed ? 0 : -1);
}

/*
 * The subject as one line, for messages; the caller frees it.
 */
char *
cert_subject(const struct cert *c)
{
	const unsigned char	*p;
	unsigned char		*tmp;
	size_t			 len;
	X509			*x;
	char			*s;

	if ((p = der_get(c, &len, &tmp)) == NULL)
		return (strdup("(unreadable)"));
	x = d2i_X509_AUX(NULL, &p, (long)len);
	free(tmp);
	if (x == NULL)
		return (strdup("(undecodable)"));
	s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	X509_free(x);
	return (s != NULL ? s : strdup("?"));
}

/*
 * The certificate as a PEM block in a new buffer (64 columns).
 * Returns 0, or -1 when out of memory or the certificate cannot be read
 * again (logged).
 */
int
cert_pem(const struct cert *c, char **out, size_t *outlen)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*label;
	const unsigned char	*s;
	unsigned char		*tmp;
	size_t			 i, n, cap, col = 0, derlen;
	char			*buf, *d;
	unsigned long		 v;

	if ((s = der_get(c, &derlen, &tmp)) == NULL)
		return (-1);
	label = c->trusted ? "TRUSTED CERTIFICATE" : "CERTIFICATE";
	cap = 2 * (strlen(label) + 16) + (derlen + 2) / 3 * 4 +
	    derlen / 48 + 2;
	if ((buf = malloc(cap)) == NULL) {
		free(tmp);
		return (-1);
	}
	d = buf + sprintf(buf, "-----BEGIN %s-----\n", label);
	for (i = 0; i < derlen; i += 3) {
		n = derlen - i;
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
	free(tmp);
	*out = buf;
	*outlen = (size_t)(d - buf);
	return (0);
}
