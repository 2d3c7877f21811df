/*
 * The CA store.  Makes a directory hold exactly the wanted certificates
 * as <subject_hash>.N files, the names openssl rehash gives, without
 * touching any file that is not ours.
 *
 * Ours: a regular file whose first line is our header, naming the
 * SHA-256 fingerprint of the certificate it holds.  The index file
 * caches (name, inode, size, ctime, fingerprint, trust settings) of
 * each file we wrote, so that a pass over an unchanged bundle opens none
 * of them and decodes no certificate.  The index is only a cache: a file whose
 * inode, size or ctime differ from it is read again.  The ctime, which
 * no one can set back (unlike the mtime, see touch -r), changes with
 * any write, chmod or link to the file.
 *
 * The index also records, for each block of the bundles, the SHA-256 of
 * its base64 text and the fingerprint of the certificate it holds
 * (store_known hands them to bundle_read), so that such a pass does not
 * even decode the bundles.  Whenever a certificate's DER is needed after
 * all, it is decoded from the bundle again and checked against that
 * fingerprint (cert_der).
 *
 * Numbering per hash is gapless from .0, because OpenSSL's lookup stops
 * at the first missing number.  Files that are not ours keep their
 * numbers; ours fill the free ones in the order the certificates were
 * read (the bundles in configuration order, then the intermediates),
 * which is the order openssl rehash of the split bundles numbers them
 * in: OpenSSL tries a leaf without authorityKeyIdentifier against the
 * first CA of its issuer's name only, and the bundle's order decides
 * which one that is.  So an unchanged bundle keeps every number, and a
 * reordered one renumbers.
 *
 * Every new or changed file is written to a temporary name, made
 * durable, then linked (new names, which never clobbers a file that
 * appeared meanwhile) or renamed (our own files) into place; only after
 * all of them are in place are stale files removed.  A failure while
 * writing removes the temporary files and changes nothing.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bundle.h"
#include "log.h"
#include "osdep.h"
#include "store.h"
#include "file.h"

#define HDR_PREFIX	"# smtlsd sha256:"
#define HDR_SUFFIX	" (written by smtlsd(8), do not edit)\n"
#define HDR_LEN		(sizeof(HDR_PREFIX) - 1 + 2 * CERT_FPLEN + \
			    sizeof(HDR_SUFFIX) - 1)
/* 3 had no trust settings, 2 no block lines, 1 held mtimes. */
#define INDEX_MAGIC	"smtlsd-index 4\n"
#define INDEX_MAX	(64 * 1024 * 1024)
#define INDEX_CHUNK	(64 * 1024)
#define OWNED_MAX	(1024 * 1024)
#define SLAB_ENTRIES	256

enum plan {
	P_NONE,
	P_KEEP,
	P_ADD,
	P_REPLACE,
	P_REMOVE
};

/* What identifies a file's state: what the index records, and more. */
struct fstate {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 ctim;
	mode_t		 mode;
};

/* What a file written by the pass needs besides. */
struct entwrite {
	char		 tmp[40];	/* its temporary name, or "" */
	struct fstate	 newst;
	int		 committed;	/* in place under its name */
};

struct entry {
	unsigned long	 hash;
	unsigned long	 n;
	unsigned int	 exists:1;	/* in the directory now */
	unsigned int	 owned:1;	/* ours */
	unsigned int	 known:1;	/* ours, and holds fp */
	unsigned int	 vouched:1;	/* the index says we wrote it here */
	unsigned int	 fixed:1;	/* keeps its number and content */
	unsigned int	 idknown:1;	/* fp and trust settings below */
	unsigned int	 trusted:1;	/* holds a TRUSTED CERTIFICATE */
	unsigned int	 aux:1;		/* with trust settings: tid */
	enum plan	 plan;
	unsigned char	 fp[CERT_FPLEN];
	unsigned char	 tid[CERT_FPLEN];
	struct fstate	 st;
	struct cert	*put;		/* what P_ADD/P_REPLACE write */
	struct entwrite	*w;		/* when written */
};

/* Entries are allocated in slabs, never one by one. */
struct entslab {
	struct entslab	*next;
	size_t		 used;
	struct entry	 ents[SLAB_ENTRIES];
};

/* A file line of the index. */
struct idxrec {
	unsigned long	 hash;
	unsigned long	 n;
	unsigned long long ino;
	long long	 size, sec, nsec;
	unsigned char	 fp[CERT_FPLEN];
	unsigned char	 tid[CERT_FPLEN];
	int		 trusted;
	int		 aux;
};

/* The index as read, and which file it was read from. */
struct idx {
	int		 reusable;	/* the file below, unchanged since */
	int		 handed;	/* blocks given to a set as read */
	struct filestamp stamp;
	char		*dir;
	struct idxrec	*recs;		/* sorted by name, no two alike */
	size_t		 nrecs;
	struct blockmap	 blocks;
};

struct warned {
	RB_ENTRY(warned) entry;
	char		 name[32];
};
RB_HEAD(warntree, warned);

struct store {
	struct warntree	 warned;	/* foreign names reported already */
	struct idx	 idx;		/* from store_known to store_sync */
};

struct bucket {
	unsigned long	  hash;
	struct entry	**ents;
	size_t		  nents;
	struct cert	**certs;
	size_t		  ncerts;
};

struct pass {
	struct store		*s;
	const char		*dir;
	int			 dirfd;
	int			 flags;
	struct certset		*want;
	struct store_stats	*st;
	struct entry		**ents;		/* by name, after scan */
	size_t			 nents;
	size_t			 entcap;
	struct entry		**byfp;		/* ours and known, by fp */
	size_t			 fpsize;	/* 0 or a power of two */
	struct entry		**adds;		/* new names, not in ents yet */
	size_t			 nadds;
	struct entslab		*slabs;
	unsigned long		*slotbuf;	/* for plan_bucket */
	size_t			 slotcap;
	int			 handed;	/* want read with idx.blocks */
	store_report_fn		 report;
	void			*arg;
	size_t			 hits;		/* files the index vouched for */
	int			 stale;		/* the index must be rewritten */
	int			 said;		/* the failure is reported */
};

static int
warned_cmp(struct warned *a, struct warned *b)
{
	return (strcmp(a->name, b->name));
}

RB_GENERATE_STATIC(warntree, warned, entry, warned_cmp)

static void
idx_clear(struct idx *x)
{
	free(x->recs);
	free(x->dir);
	blockmap_free(&x->blocks);
	memset(x, 0, sizeof(*x));
}

struct store *
store_new(void)
{
	struct store	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	RB_INIT(&s->warned);
	return (s);
}

void
store_free(struct store *s)
{
	struct warned	*w, *next;

	if (s == NULL)
		return;
	RB_FOREACH_SAFE(w, warntree, &s->warned, next) {
		RB_REMOVE(warntree, &s->warned, w);
		free(w);
	}
	idx_clear(&s->idx);
	free(s);
}

/*
 * Parses "<8 hex>.<decimal>" (len bytes), the names OpenSSL looks up.
 * Returns 0, or -1 for any other name.
 */
static int
parse_name(const char *name, size_t len, unsigned long *hash,
    unsigned long *n)
{
	const char	*p, *end = name + len;
	unsigned long	 h = 0, v = 0;
	int		 i, d;

	if (len < 10)
		return (-1);
	for (i = 0; i < 8; i++) {
		if (name[i] >= '0' && name[i] <= '9')
			d = name[i] - '0';
		else if (name[i] >= 'a' && name[i] <= 'f')
			d = name[i] - 'a' + 10;
		else
			return (-1);
		h = h << 4 | (unsigned long)d;
	}
	if (name[8] != '.' || (name[9] == '0' && len != 10))
		return (-1);
	for (p = name + 9; p < end; p++) {
		if (*p < '0' || *p > '9' || v > 100000)
			return (-1);
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*hash = h;
	*n = v;
	return (0);
}

/* Writes "<8 hex>.<decimal>" at d; returns the end (not terminated). */
static char *
fmt_name(char *d, unsigned long hash, unsigned long n)
{
	static const char	digits[] = "0123456789abcdef";
	char			tmp[24];
	int			i, k = 0;

	for (i = 7; i >= 0; i--)
		*d++ = digits[(hash >> (4 * i)) & 0xf];
	*d++ = '.';
	do
		tmp[k++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	while (k > 0)
		*d++ = tmp[--k];
	return (d);
}

static void
slot_name(unsigned long hash, unsigned long n, char *buf, size_t len)
{
	snprintf(buf, len, "%08lx.%lu", hash, n);
}

/* ------------------------------------------------------------- index */

/* Value + 1 of each lower-case hex digit; 0 for anything else. */
static const unsigned char	hexdig[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/*
 * Parses 64 hex digits followed by one of the characters in stop at p
 * (before end).  Returns the character after them, or NULL.
 */
static const char *
scan_hex(const char *p, const char *end, unsigned char *fp, char stop)
{
	const unsigned char	*u = (const unsigned char *)p;
	unsigned int		 hi, lo, bad = 0;
	size_t			 i;

	if (end - p < 2 * CERT_FPLEN + 1 || p[2 * CERT_FPLEN] != stop)
		return (NULL);
	for (i = 0; i < CERT_FPLEN; i++) {
		hi = hexdig[u[2 * i]];
		lo = hexdig[u[2 * i + 1]];
		bad |= (hi == 0) | (lo == 0);
		fp[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
	}
	return (bad ? NULL : p + 2 * CERT_FPLEN + 1);
}

/* A decimal number followed by ' ', or NULL. */
static const char *
scan_unum(const char *p, const char *end, unsigned long long *v)
{
	unsigned long long	x = 0;

	if (p >= end || *p < '0' || *p > '9')
		return (NULL);
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (x > (ULLONG_MAX - 9) / 10)
			return (NULL);
		x = x * 10 + (unsigned long long)(*p - '0');
	}
	if (p >= end || *p != ' ')
		return (NULL);
	*v = x;
	return (p + 1);
}

static const char *
scan_num(const char *p, const char *end, long long *v)
{
	unsigned long long	x;
	int			neg = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if ((p = scan_unum(p, end, &x)) == NULL ||
	    x > (unsigned long long)LLONG_MAX)
		return (NULL);
	*v = neg ? -(long long)x : (long long)x;
	return (p);
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct idxrec	*x = a, *y = b;

	if (x->hash != y->hash)
		return (x->hash < y->hash ? -1 : 1);
	if (x->n != y->n)
		return (x->n < y->n ? -1 : 1);
	return (0);
}

/*
 * "<0|1>[ <tid>]" from p to exactly eol: a TRUSTED CERTIFICATE (1) or
 * not, and the SHA-256 of its whole DER when it holds trust settings.
 * Returns 0, or -1 when malformed.
 */
static int
scan_trust(const char *p, const char *eol, int *trusted, int *aux,
    unsigned char *tid)
{
	if (p >= eol || (*p != '0' && *p != '1'))
		return (-1);
	*trusted = *p == '1';
	*aux = p + 1 != eol;
	if (*aux && (p[1] != ' ' || scan_hex(p + 2, eol + 1, tid, *eol) !=
	    eol + 1))
		return (-1);
	return (0);
}

/*
 * "<name> <inode> <size> <ctime s> <ctime ns> <fingerprint> <trust>",
 * trust as scan_trust reads it.
 */
static int
parse_file_line(struct idxrec *r, const char *p, const char *eol)
{
	const char	*q;

	if ((q = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    parse_name(p, (size_t)(q - p), &r->hash, &r->n) == -1 ||
	    (q = scan_unum(q + 1, eol, &r->ino)) == NULL ||
	    (q = scan_num(q, eol, &r->size)) == NULL ||
	    (q = scan_num(q, eol, &r->sec)) == NULL ||
	    (q = scan_num(q, eol, &r->nsec)) == NULL ||
	    (q = scan_hex(q, eol, r->fp, ' ')) == NULL ||
	    scan_trust(q, eol, &r->trusted, &r->aux, r->tid) == -1)
		return (-1);
	return (0);
}

/* "t <text digest> <fingerprint> <trust>": a block of the bundles. */
static void
parse_block_line(struct idx *x, const char *p, const char *eol)
{
	struct certblock	*b;
	unsigned char		 td[CERT_FPLEN], fp[CERT_FPLEN];
	unsigned char		 tid[CERT_FPLEN];
	const char		*q;
	int			 trusted, aux;

	if ((q = scan_hex(p + 2, eol, td, ' ')) == NULL ||
	    (q = scan_hex(q, eol, fp, ' ')) == NULL ||
	    scan_trust(q, eol, &trusted, &aux, tid) == -1)
		return;
	if (blockmap_add(&x->blocks, td, fp, trusted, aux ? tid : NULL) == 1 &&
	    (b = blockmap_find(&x->blocks, td, trusted)) != NULL &&
	    (memcmp(b->fp, fp, CERT_FPLEN) != 0 ||
	    !(BLOCKMAP_STATE(&x->blocks, b) & BLOCK_AUX) != !aux ||
	    (aux && memcmp(b->tid, tid, CERT_FPLEN) != 0)))
		BLOCKMAP_STATE(&x->blocks, b) |= BLOCK_BAD;	/* trust neither */
}

/* Reading an index. */
struct idxparse {
	int		 version;	/* 0 until the first line is read */
	size_t		 cap;
	int		 sorted;
};

/*
 * One line of the index, p to eol (its newline).  Lines that do not
 * parse are skipped: each one stands alone.  Returns -1 when the first
 * line says it is no index of ours.
 */
static int
idx_line(struct idx *x, struct idxparse *ps, const char *p, const char *eol)
{
	struct idxrec	*r, *recs;
	size_t		 cap;

	if (ps->version == 0) {
		/* An older one is no index: rebuilt from the files. */
		if ((size_t)(eol - p) == sizeof(INDEX_MAGIC) - 2 &&
		    memcmp(p, INDEX_MAGIC, sizeof(INDEX_MAGIC) - 2) == 0)
			ps->version = 4;
		else
			return (-1);
		ps->sorted = 1;
		return (0);
	}
	if (p[0] == 't' && eol - p > 2 && p[1] == ' ') {
		parse_block_line(x, p, eol);
		return (0);
	}
	if (x->nrecs == ps->cap) {
		cap = ps->cap == 0 ? 256 : ps->cap * 2;
		if ((recs = reallocarray(x->recs, cap, sizeof(*recs))) == NULL)
			return (0);
		x->recs = recs;
		ps->cap = cap;
	}
	r = &x->recs[x->nrecs];
	if (parse_file_line(r, p, eol) == -1)
		return (0);
	if (x->nrecs > 0 && rec_cmp(r - 1, r) >= 0)
		ps->sorted = 0;
	x->nrecs++;
	return (0);
}

/* Once every line is read: the records sorted, one for each name. */
static void
idx_end(struct idx *x, struct idxparse *ps)
{
	size_t	i, j;

	if (!ps->sorted)
		qsort(x->recs, x->nrecs, sizeof(*x->recs), rec_cmp);
	for (i = j = 0; i < x->nrecs; i++)
		if (j == 0 || rec_cmp(&x->recs[j - 1], &x->recs[i]) != 0)
			x->recs[j++] = x->recs[i];
	x->nrecs = j;
}

/*
 * Reads the index from fd (size bytes, as far as it knows) into x, a
 * chunk at a time.  A line longer than a chunk is no line of ours.
 */
static void
idx_read(struct idx *x, int fd, off_t size)
{
	struct idxparse	 ps;
	char		*buf, *p, *end, *eol;
	size_t		 len = 0;
	ssize_t		 n;
	int		 eof = 0, skip = 0;

	memset(&ps, 0, sizeof(ps));
	/* About one line of each kind for each certificate. */
	ps.cap = (size_t)size / 200 + 16;
	if ((x->recs = reallocarray(NULL, ps.cap, sizeof(*x->recs))) == NULL ||
	    blockmap_reserve(&x->blocks, (size_t)size / 240 + 16) == -1 ||
	    (buf = malloc(INDEX_CHUNK)) == NULL)
		return;
	while (!eof) {
		if ((n = read(fd, buf + len, INDEX_CHUNK - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			eof = 1;
			n = 0;
		}
		len += (size_t)n;
		p = buf;
		end = buf + len;
		while ((eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if (!skip && idx_line(x, &ps, p, eol) == -1)
				goto out;
			skip = 0;
			p = eol + 1;
		}
		len = (size_t)(end - p);
		if (len == INDEX_CHUNK) {
			skip = 1;	/* to the end of this line */
			len = 0;
		} else
			memmove(buf, p, len);
	}
	idx_end(x, &ps);
out:
	free(buf);
}

static int
same_file(const struct idx *x, const char *dir, const struct stat *st)
{
	return (x->reusable && x->dir != NULL && strcmp(x->dir, dir) == 0 &&
	    filestamp_same(&x->stamp, st));
}

/*
 * Makes s->idx the index of dir (open as dirfd), reading it unless it
 * is the file read last.  Logs problems unless quiet; sets *stale when
 * the index must be written again whatever happens.
 */
static void
index_load(struct store *s, const char *dir, int dirfd, int quiet,
    int *stale)
{
	struct idx	*x = &s->idx;
	struct stat	 st;
	int		 fd;

	if ((fd = openat(dirfd, STORE_INDEX, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ELOOP || errno == EMLINK) {
			if (!quiet)
				log_warnx("%s/%s: is a symbolic link: not "
				    "followed; the index is rebuilt in its "
				    "place", dir, STORE_INDEX);
			*stale = 1;
		} else if (errno != ENOENT && !quiet)
			log_warn("%s/%s", dir, STORE_INDEX);
		idx_clear(x);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > INDEX_MAX) {
		close(fd);
		idx_clear(x);
		return;
	}
	if (same_file(x, dir, &st)) {
		close(fd);
		return;
	}
	idx_clear(x);
	idx_read(x, fd, st.st_size);
	close(fd);
	if ((x->dir = strdup(dir)) != NULL) {
		filestamp_set(&x->stamp, &st);
		x->reusable = 1;
	}
}

/*
 * Before the bundles are read into set: lets bundle_read recognise the
 * blocks that the store at dir has seen before, from its index, so that
 * it decodes only new ones.  Only a cache: nothing is logged, and
 * without an index every block is decoded.  set->known stays valid until
 * store_sync, which uses what was read here unless the index changed.
 */
void
store_known(struct store *s, const char *dir, struct certset *set)
{
	int	fd, stale = 0;

	set->known = NULL;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	index_load(s, dir, fd, 1, &stale);
	close(fd);
	s->idx.handed = 1;
	if (s->idx.blocks.count > 0)
		set->known = &s->idx.blocks;
}

/* ------------------------------------------------------------- files */

static void
fstate_set(struct fstate *f, const struct stat *st)
{
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->ctim = st->st_ctim;
	f->mode = st->st_mode;
}

/*
 * The exact bytes we write for c: header line, then PEM.
 */
static int
owned_content(const struct cert *c, char **out, size_t *outlen)
{
	char	*pem, *buf, hex[2 * CERT_FPLEN + 1];
	size_t	 pemlen;

	if (cert_pem(c, &pem, &pemlen) == -1)
		return (-1);
	if ((buf = malloc(HDR_LEN + pemlen + 1)) == NULL) {
		free(pem);
		return (-1);
	}
	cert_fphex(c->fp, hex);
	snprintf(buf, HDR_LEN + 1, "%s%s%s", HDR_PREFIX, hex, HDR_SUFFIX);
	memcpy(buf + HDR_LEN, pem, pemlen);
	free(pem);
	*out = buf;
	*outlen = HDR_LEN + pemlen;
	return (0);
}

/* e holds exactly c, trust settings and all. */
static void
ent_setid(struct entry *e, const struct cert *c)
{
	memcpy(e->fp, c->fp, CERT_FPLEN);
	memcpy(e->tid, c->tid, CERT_FPLEN);
	e->trusted = c->trusted != 0;
	e->aux = c->aux != 0;
	e->idknown = 1;
}

/* Whether the file of e holds c as we would write it. */
static int
ent_holds(const struct entry *e, const struct cert *c)
{
	return (e->idknown && cert_same(c, e->fp, e->trusted, e->aux,
	    e->tid));
}

/*
 * Decides whether the file of e is ours by reading it: our header, and
 * for a wanted certificate exactly the content we would write.
 */
static void
classify_by_content(struct pass *p, struct entry *e, const char *name)
{
	struct stat	 st;
	struct cert	*c;
	char		*buf = NULL, *want = NULL;
	size_t		 len = 0, wantlen;
	ssize_t		 n;
	int		 fd, loaded;

	if ((fd = openat(p->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) == -1 || st.st_ino != e->st.ino ||
	    !S_ISREG(st.st_mode) || st.st_size > OWNED_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	if (len < HDR_LEN ||
	    memcmp(buf, HDR_PREFIX, sizeof(HDR_PREFIX) - 1) != 0 ||
	    cert_fpparse(buf + sizeof(HDR_PREFIX) - 1, e->fp) == -1)
		goto out;
	e->owned = 1;
	if ((c = certset_find(p->want, e->fp)) == NULL)
		e->known = 1;	/* unwanted: to be removed, content moot */
	else {
		loaded = c->der == NULL;
		if (cert_der(c) == 0 &&
		    owned_content(c, &want, &wantlen) == 0) {
			e->known = wantlen == len &&
			    memcmp(want, buf, len) == 0;
			free(want);
		}
		/* Exactly what c is, trust settings and all. */
		if (e->known)
			ent_setid(e, c);
		if (loaded)
			cert_der_drop(c);
	}
out:
	free(buf);
	close(fd);
}

static void
classify(struct pass *p, struct entry *e, const struct idxrec *r)
{
	char	name[32];

	if (!S_ISREG(e->st.mode))
		return;		/* a link or anything else: not ours */
	if (r != NULL && r->ino == (unsigned long long)e->st.ino &&
	    r->size == (long long)e->st.size &&
	    r->sec == (long long)e->st.ctim.tv_sec &&
	    r->nsec == (long long)e->st.ctim.tv_nsec) {
		memcpy(e->fp, r->fp, CERT_FPLEN);
		memcpy(e->tid, r->tid, CERT_FPLEN);
		e->trusted = r->trusted != 0;
		e->aux = r->aux != 0;
		e->owned = e->known = e->vouched = e->idknown = 1;
		p->hits++;
	} else {
		slot_name(e->hash, e->n, name, sizeof(name));
		classify_by_content(p, e, name);
		if (e->owned)
			p->stale = 1;
	}
	/* Ours but no longer 0644 (chmod): written again. */
	if (e->owned && (e->st.mode & 07777) != 0644)
		e->known = 0;
}

/*
 * Why OpenSSL's CApath lookup could not load the file at name, or NULL
 * when it could.  A FIFO or a device is not opened at all.
 */
static const char *
foreign_unloadable(struct pass *p, const char *name)
{
	struct stat	 st;
	X509		*x;
	BIO		*bio;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	if (fstatat(p->dirfd, name, &st, 0) == -1)
		return ("a dangling link");
	if (!S_ISREG(st.st_mode))
		return ("not a regular file");
	if ((fd = openat(p->dirfd, name, O_RDONLY | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return ("unreadable");
	if ((buf = malloc(OWNED_MAX)) == NULL) {
		close(fd);
		return (NULL);
	}
	n = read(fd, buf, OWNED_MAX);
	close(fd);
	x = NULL;
	if (n > 0 && (bio = BIO_new_mem_buf(buf, (int)n)) != NULL) {
		x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	free(buf);
	if (n == 0)
		return ("an empty file");
	if (x == NULL)
		return ("not a PEM certificate");
	X509_free(x);
	return (NULL);
}

static void
warn_foreign(struct store *s, struct pass *p, const char *name)
{
	struct warned	*w;
	const char	*why;

	p->st->foreign++;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	strlcpy(w->name, name, sizeof(w->name));
	if (RB_INSERT(warntree, &s->warned, w) != NULL) {
		free(w);
		return;
	}
	if ((why = foreign_unloadable(p, name)) != NULL)
		log_warnx("%s/%s: not written by smtlsd, and %s: OpenSSL stops "
		    "at this name, so sendmail does not see the certificates "
		    "numbered after it; remove it", p->dir, name, why);
	else
		log_warnx("%s/%s: not written by smtlsd; left alone, but "
		    "sendmail trusts it (remove it if it is a leftover)",
		    p->dir, name);
}

/*
 * A foreign entry e at a number before last, where our certificates go:
 * when OpenSSL cannot load it, they are out of its reach.  Counted as an
 * error of the pass, naming the entry and what to do.
 */
static void
foreign_blocks(struct pass *p, const struct entry *e, unsigned long last)
{
	const char	*why;
	char		 name[32];

	slot_name(e->hash, e->n, name, sizeof(name));
	if ((why = foreign_unloadable(p, name)) == NULL)
		return;
	log_warnx("%s/%s: OpenSSL cannot load it (%s) and stops there, so "
	    "the certificates smtlsd keeps at %08lx.%lu to %08lx.%lu are out "
	    "of reach; remove it or put a certificate there (smtlsd never "
	    "touches it)", p->dir, name, why, e->hash, e->n + 1, e->hash,
	    last);
	p->st->errors++;
}

/* Something to sort by a 64-bit key. */
struct keyed {
	uint64_t	 key;
	void		*item;
};

/*
 * Sorts the n items of a by key, keeping the order of equal keys (a
 * radix sort, a byte at a time).  Returns 0, or -1 when out of memory.
 */
static int
keyed_sort(struct keyed *a, size_t n)
{
	struct keyed	*tmp, *src = a, *dst, *t;
	size_t		 count[256], i, c, sum, k;
	int		 shift;

	if (n < 2)
		return (0);
	if ((tmp = reallocarray(NULL, n, sizeof(*tmp))) == NULL)
		return (-1);
	dst = tmp;
	for (shift = 0; shift < 64; shift += 8) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i].key >> shift) & 0xff]++;
		if (count[(src[0].key >> shift) & 0xff] == n)
			continue;	/* one value of this byte */
		for (sum = 0, c = 0; c < 256; c++) {
			k = count[c];
			count[c] = sum;
			sum += k;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i].key >> shift) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	free(tmp);
	return (0);
}

/* The entries in name order.  Returns 0, or -1 when out of memory. */
static int
sort_entries(struct pass *p)
{
	struct keyed	*k;
	size_t		 i;

	if ((k = reallocarray(NULL, p->nents + 1, sizeof(*k))) == NULL)
		return (-1);
	for (i = 0; i < p->nents; i++) {
		k[i].key = (uint64_t)p->ents[i]->hash << 32 | p->ents[i]->n;
		k[i].item = p->ents[i];
	}
	if (keyed_sort(k, p->nents) == -1) {
		free(k);
		return (-1);
	}
	for (i = 0; i < p->nents; i++)
		p->ents[i] = k[i].item;
	free(k);
	return (0);
}

/* A cleared entry, owned by the pass. */
static struct entry *
entry_new(struct pass *p)
{
	struct entslab	*s = p->slabs;
	struct entry	*e;

	if (s == NULL || s->used == SLAB_ENTRIES) {
		if ((s = malloc(sizeof(*s))) == NULL)
			return (NULL);
		s->next = p->slabs;
		s->used = 0;
		p->slabs = s;
	}
	e = &s->ents[s->used++];
	memset(e, 0, sizeof(*e));
	return (e);
}

/* Appends e to the entries (sorted again by the caller). */
static int
entry_push(struct pass *p, struct entry *e)
{
	struct entry	**ents;
	size_t		  cap;

	if (p->nents == p->entcap) {
		cap = p->entcap == 0 ? 256 : p->entcap * 2;
		if ((ents = reallocarray(p->ents, cap, sizeof(*ents))) == NULL)
			return (-1);
		p->ents = ents;
		p->entcap = cap;
	}
	p->ents[p->nents++] = e;
	return (0);
}

static size_t
fp_slot(const unsigned char *fp, size_t size)
{
	uint64_t	h;

	memcpy(&h, fp, sizeof(h));
	return ((size_t)h & (size - 1));
}

/*
 * Our file that holds fp (a vouched one when there are several), or
 * NULL.
 */
static struct entry *
byfp_find(struct pass *p, const unsigned char *fp)
{
	struct entry	*e;
	size_t		 i;

	if (p->fpsize == 0)
		return (NULL);
	for (i = fp_slot(fp, p->fpsize); (e = p->byfp[i]) != NULL;
	    i = (i + 1) & (p->fpsize - 1))
		if (memcmp(e->fp, fp, CERT_FPLEN) == 0)
			return (e);
	return (NULL);
}

static int
byfp_build(struct pass *p)
{
	struct entry	*e, **slot;
	size_t		 i, j, n = 0;

	for (i = 0; i < p->nents; i++)
		n += p->ents[i]->owned && p->ents[i]->known;
	for (p->fpsize = 16; p->fpsize < 2 * n; p->fpsize *= 2)
		;
	if ((p->byfp = calloc(p->fpsize, sizeof(*p->byfp))) == NULL) {
		p->fpsize = 0;
		return (-1);
	}
	for (i = 0; i < p->nents; i++) {
		e = p->ents[i];
		if (!e->owned || !e->known)
			continue;
		for (j = fp_slot(e->fp, p->fpsize); *(slot = &p->byfp[j]) !=
		    NULL; j = (j + 1) & (p->fpsize - 1))
			if (memcmp((*slot)->fp, e->fp, CERT_FPLEN) == 0)
				break;
		if (*slot == NULL || (e->vouched && !(*slot)->vouched))
			*slot = e;
	}
	return (0);
}

/*
 * The state of every entry read again, after scan removed temporary
 * files.  A kill -9 between linking a new file into place and removing
 * its temporary name leaves both names on one inode, and removing the
 * temporary one changes that file's ctime: read before (readdir's order
 * is the file system's), the file would look changed by someone else
 * when it is replaced or removed, and be left alone.  Entries gone
 * meanwhile are dropped.
 */
static void
restat(struct pass *p)
{
	struct entry	*e;
	struct stat	 st;
	size_t		 i, j;
	char		 name[32];

	for (i = j = 0; i < p->nents; i++) {
		e = p->ents[i];
		slot_name(e->hash, e->n, name, sizeof(name));
		if (fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		fstate_set(&e->st, &st);
		p->ents[j++] = e;
	}
	p->nents = j;
}

/*
 * Reads the directory: removes temporary files a crash left behind and
 * records every hash-named file, ours or not, in name order.
 */
static int
scan(struct store *s, struct pass *p)
{
	struct dirent	*de;
	struct entry	*e;
	struct idxrec	*r;
	struct stat	 st;
	DIR		*d;
	unsigned long	 hash, n;
	size_t		 i, j, swept = 0;
	int		 fd;
	char		 name[32];

	if ((fd = dup(p->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("%s", p->dir);
		if (fd != -1)
			close(fd);
		return (-1);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			if (strncmp(de->d_name, STORE_TMPPFX,
			    sizeof(STORE_TMPPFX) - 1) != 0)
				continue;
			if (!(p->flags & STORE_DRYRUN) &&
			    unlinkat(p->dirfd, de->d_name, 0) == 0) {
				log_info("%s/%s: removed a temporary file "
				    "left by an interrupted pass", p->dir,
				    de->d_name);
				swept++;
			}
			continue;
		}
		if (parse_name(de->d_name, strlen(de->d_name), &hash,
		    &n) == -1)
			continue;
		if (fstatat(p->dirfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;	/* gone meanwhile */
		if ((e = entry_new(p)) == NULL || entry_push(p, e) == -1) {
			log_warn("%s", p->dir);
			closedir(d);
			return (-1);
		}
		e->hash = hash;
		e->n = n;
		e->exists = 1;
		fstate_set(&e->st, &st);
	}
	if (errno != 0) {
		log_warn("%s: readdir", p->dir);
		closedir(d);
		return (-1);
	}
	closedir(d);
	if (swept > 0)
		restat(p);

	/* Both sorted by name: the index's record of each file, if any. */
	if (sort_entries(p) == -1) {
		log_warn("%s", p->dir);
		return (-1);
	}
	for (i = j = 0; i < p->nents; i++) {
		e = p->ents[i];
		/* No index: recs is NULL, and NULL + 0 is undefined. */
		while (j < s->idx.nrecs && (s->idx.recs[j].hash < e->hash ||
		    (s->idx.recs[j].hash == e->hash &&
		    s->idx.recs[j].n < e->n)))
			j++;
		r = j < s->idx.nrecs ? &s->idx.recs[j] : NULL;
		classify(p, e, r != NULL && r->hash == e->hash &&
		    r->n == e->n ? r : NULL);
		if (!e->owned) {
			slot_name(e->hash, e->n, name, sizeof(name));
			warn_foreign(s, p, name);
		}
	}
	if (byfp_build(p) == -1) {
		log_warn("%s", p->dir);
		return (-1);
	}
	return (0);
}

static int
bucket_push(void *arrp, size_t *n, void *item)
{
	void	***arr = arrp;
	void	 **na;

	if ((*n & (*n - 1)) == 0) {
		na = reallocarray(*arr, *n == 0 ? 1 : *n * 2, sizeof(**arr));
		if (na == NULL)
			return (-1);
		*arr = na;
	}
	(*arr)[(*n)++] = item;
	return (0);
}

/*
 * certs by hash, then in the order they were read (the tree gives them
 * in fingerprint order; keyed_sort keeps the order of equal keys).
 * Returns 0, or -1 when out of memory.
 */
static int
sort_certs(struct cert **certs, size_t n)
{
	struct keyed	*k;
	size_t		 i;

	if ((k = reallocarray(NULL, n + 1, sizeof(*k))) == NULL)
		return (-1);
	for (i = 0; i < n; i++) {
		k[i].key = (uint64_t)(certs[i]->hash & 0xffffffffUL) << 32 |
		    (uint64_t)(certs[i]->seq & 0xffffffffUL);
		k[i].item = certs[i];
	}
	if (keyed_sort(k, n) == -1) {
		free(k);
		return (-1);
	}
	for (i = 0; i < n; i++)
		certs[i] = k[i].item;
	free(k);
	return (0);
}

/*
 * The entry of b at number n, or NULL: b's entries are in name order,
 * so in number order.
 */
static struct entry *
entry_at(const struct bucket *b, unsigned long n)
{
	size_t	lo = 0, hi = b->nents, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (b->ents[mid]->n == n)
			return (b->ents[mid]);
		if (b->ents[mid]->n < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (NULL);
}

/*
 * Plans one hash: which file stays, which is written, which goes.  The
 * certificates, in the order they were read, take the numbers not held
 * by fixed files, in order; a file that already holds the certificate
 * of its number stays.  In time n log n of the files and certificates
 * under the hash: a bundle may hold thousands of certificates of one
 * subject name.
 */
static int
plan_bucket(struct pass *p, struct bucket *b)
{
	struct entry	*e;
	struct cert	*c;
	unsigned long	 n, *slots;
	size_t		 i, k, nslots = 0;
	int		 noprune = p->flags & STORE_NOPRUNE;

	for (i = 0; i < b->nents; i++) {
		e = b->ents[i];
		e->fixed = !e->owned || (noprune && (!e->known ||
		    (c = certset_find(p->want, e->fp)) == NULL || c->bad));
		/* Kept, but what it holds is not known: not recorded. */
		if (e->fixed && e->owned && !e->idknown)
			p->stale = 1;
	}
	if (b->ncerts > 1)
		p->st->collisions++;
	if (b->ncerts > p->slotcap) {
		if ((slots = reallocarray(p->slotbuf, b->ncerts,
		    sizeof(*slots))) == NULL)
			return (-1);
		p->slotbuf = slots;
		p->slotcap = b->ncerts;
	}
	slots = p->slotbuf;
	/* The first ncerts numbers not taken by fixed files, in order. */
	for (n = 0, k = 0; nslots < b->ncerts; n++) {
		while (k < b->nents && b->ents[k]->n < n)
			k++;
		if (k < b->nents && b->ents[k]->n == n && b->ents[k]->fixed)
			continue;
		slots[nslots++] = n;
	}

	/*
	 * OpenSSL's lookup stops at the first number it cannot load: a
	 * foreign entry there hides our certificates after it.  Never
	 * touched, but the pass failed, every time, until it is fixed.
	 */
	if (nslots > 0)
		for (i = 0; i < b->nents && b->ents[i]->n < slots[nslots - 1];
		    i++)
			if (!b->ents[i]->owned)
				foreign_blocks(p, b->ents[i], slots[nslots - 1]);

	/* Each certificate at its slot: kept, written over, or new. */
	for (i = 0; i < b->ncerts; i++) {
		c = b->certs[i];
		if ((e = entry_at(b, slots[i])) == NULL) {
			if ((e = entry_new(p)) == NULL)
				return (-1);
			e->hash = b->hash;
			e->n = slots[i];
			e->plan = P_ADD;
			e->put = c;
			if (bucket_push(&p->adds, &p->nadds, e) == -1)
				return (-1);
		} else if (e->known && ent_holds(e, c)) {
			e->plan = P_KEEP;
			p->st->unchanged++;
		} else {
			e->plan = P_REPLACE;
			e->put = c;
		}
	}

	/* Ours, not fixed, outside the slots: stale. */
	for (i = 0; i < b->nents; i++) {
		e = b->ents[i];
		if (e->fixed || e->plan != P_NONE)
			continue;
		e->plan = P_REMOVE;
	}
	return (0);
}

/*
 * Resolves the hash of each wanted certificate (from our files when we
 * hold it already, decoding it otherwise) and plans every hash.
 */
static int
plan(struct pass *p)
{
	struct cert	**certs = NULL, *c;
	struct entry	 *e, **ents = p->ents;
	struct bucket	  b;
	size_t		  ncerts = 0, nents = p->nents, i, j, k;
	int		  rv = -1;

	/*
	 * A file's name gives its certificate's hash only when the index
	 * says we wrote it under that name: a file of ours that was renamed
	 * or copied says nothing about the hash.
	 */
	RB_FOREACH(c, certtree, &p->want->tree) {
		/*
		 * The index named the wrong certificate for its block (said
		 * when it was found): another block may have been dropped as
		 * its duplicate, so nothing can be removed this time.
		 */
		if (c->bad) {
			p->st->errors++;
			p->flags |= STORE_NOPRUNE;
			continue;
		}
		if ((e = byfp_find(p, c->fp)) != NULL && e->vouched) {
			c->hash = e->hash;
			c->hashed = 1;
		} else if (cert_hash(c) == -1) {
			p->st->errors++;
			p->flags |= STORE_NOPRUNE;
			continue;
		}
		if (bucket_push(&certs, &ncerts, c) == -1)
			goto out;
	}
	if (sort_certs(certs, ncerts) == -1)
		goto out;
	p->st->certs = ncerts;

	/* Walk both lists, sorted by hash, one hash at a time. */
	for (i = 0, j = 0; i < ncerts || j < nents; ) {
		memset(&b, 0, sizeof(b));
		if (j == nents || (i < ncerts && certs[i]->hash < ents[j]->hash))
			b.hash = certs[i]->hash;
		else
			b.hash = ents[j]->hash;
		for (k = i; k < ncerts && certs[k]->hash == b.hash; k++)
			;
		/* One list may be empty, its array NULL: no NULL + 0. */
		b.certs = k > i ? certs + i : NULL;
		b.ncerts = k - i;
		i = k;
		for (k = j; k < nents && ents[k]->hash == b.hash; k++)
			;
		b.ents = k > j ? ents + j : NULL;
		b.nents = k - j;
		j = k;
		if (plan_bucket(p, &b) == -1)
			goto out;
	}

	/* The new names join the others, in order. */
	for (i = 0; i < p->nadds; i++)
		if (entry_push(p, p->adds[i]) == -1)
			goto out;
	if (p->nadds > 0 && sort_entries(p) == -1)
		goto out;
	rv = 0;
out:
	if (rv == -1)
		log_warn("%s: planning", p->dir);
	free(certs);
	return (rv);
}

static int
write_tmp(struct pass *p, struct entry *e)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len;
	ssize_t		 n;
	int		 fd = -1, loaded;

	if (e->w == NULL && (e->w = calloc(1, sizeof(*e->w))) == NULL) {
		log_warn("%s", p->dir);
		return (-1);
	}
	/* Read from its bundle again (and checked) when not at hand. */
	loaded = e->put->der == NULL;
	if (cert_der(e->put) == -1)
		return (-1);
	n = owned_content(e->put, &buf, &len);
	if (loaded)
		cert_der_drop(e->put);
	if (n == -1) {
		log_warn("%s", p->dir);
		return (-1);
	}
	if ((fd = file_tmp_open(p->dirfd, e->w->tmp, sizeof(e->w->tmp),
	    0644)) == -1) {
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			log_warnx("cert_dir %s: not writable (%s); nothing was "
			    "changed", p->dir, strerror(errno));
		else
			log_warn("cert_dir %s: cannot create %s; nothing was "
			    "changed", p->dir, e->w->tmp);
		p->said = 1;
		e->w->tmp[0] = '\0';
		free(buf);
		return (-1);
	}
	if (fchmod(fd, 0644) == -1 || file_write_all(fd, buf, len) == -1)
		goto fail;
	if (osdep_file_written(fd) == -1 || fstat(fd, &st) == -1)
		goto fail;
	fstate_set(&e->w->newst, &st);
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	free(buf);
	return (0);
fail:
	log_warn("%s/%s: writing", p->dir, e->w->tmp);
	if (fd != -1)
		close(fd);
	unlinkat(p->dirfd, e->w->tmp, 0);
	e->w->tmp[0] = '\0';
	free(buf);
	return (-1);
}

/*
 * True when the file at name is still the one we classified.
 */
static int
still_ours(struct pass *p, struct entry *e, const char *name)
{
	struct stat	st;

	return (fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_ino == e->st.ino &&
	    st.st_dev == e->st.dev &&
	    st.st_ctim.tv_sec == e->st.ctim.tv_sec &&
	    st.st_ctim.tv_nsec == e->st.ctim.tv_nsec);
}

/*
 * The file is in place under name: what the index records of it must be
 * its state now, since linking and renaming change its ctime.
 */
static void
committed(struct pass *p, struct entry *e, const char *name)
{
	struct stat	st;

	e->w->committed = 1;
	if (fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_ino == e->w->newst.ino && st.st_dev == e->w->newst.dev)
		fstate_set(&e->w->newst, &st);
}

static int
commit(struct pass *p, struct entry *e)
{
	char	name[32];

	slot_name(e->hash, e->n, name, sizeof(name));
	if (e->plan == P_ADD) {
		if (linkat(p->dirfd, e->w->tmp, p->dirfd, name, 0) == 0) {
			unlinkat(p->dirfd, e->w->tmp, 0);
			committed(p, e, name);
			return (0);
		}
		if (errno == EEXIST) {
			log_warnx("%s/%s: appeared while smtlsd was writing "
			    "it; left alone", p->dir, name);
			unlinkat(p->dirfd, e->w->tmp, 0);
			return (-1);
		}
		/* File systems without hard links. */
	} else if (!still_ours(p, e, name)) {
		log_warnx("%s/%s: changed while smtlsd was writing it; left "
		    "alone", p->dir, name);
		unlinkat(p->dirfd, e->w->tmp, 0);
		return (-1);
	}
	if (renameat(p->dirfd, e->w->tmp, p->dirfd, name) == -1) {
		log_warn("%s/%s: rename", p->dir, name);
		unlinkat(p->dirfd, e->w->tmp, 0);
		return (-1);
	}
	committed(p, e, name);
	return (0);
}

/* --------------------------------------------------- writing the index */

static char *
fmt_unum(char *d, unsigned long long v)
{
	char	tmp[24];
	int	k = 0;

	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (k > 0)
		*d++ = tmp[--k];
	return (d);
}

static char *
fmt_num(char *d, long long v)
{
	if (v < 0) {
		*d++ = '-';
		return (fmt_unum(d, 0ULL - (unsigned long long)v));
	}
	return (fmt_unum(d, (unsigned long long)v));
}

static char *
fmt_hex(char *d, const unsigned char *fp)
{
	cert_fphex(fp, d);
	return (d + 2 * CERT_FPLEN);
}

/* Whether c's text is to be recorded: read from a file, and right. */
static int
block_recorded(const struct cert *c)
{
	return (c->src != NULL && !c->bad);
}

/* Whether the block b of m names fp, with trust settings tid or none. */
static int
block_names(const struct blockmap *m, const struct certblock *b,
    const unsigned char *fp, const unsigned char *tid)
{
	int	aux = (BLOCKMAP_STATE(m, b) & BLOCK_AUX) != 0;

	return (memcmp(b->fp, fp, CERT_FPLEN) == 0 && aux == (tid != NULL) &&
	    (!aux || memcmp(b->tid, tid, CERT_FPLEN) == 0));
}

/*
 * Whether the block lines of the index must change: a block of the
 * bundles read this time is not there (or names another certificate),
 * or, unless the bundles were damaged, a block there was not read.
 * Marks the blocks of the index that were read.
 */
static int
blocks_stale(struct pass *p)
{
	struct blockmap		*m = &p->s->idx.blocks, *xm = &p->want->extra;
	struct certblock	*b;
	struct cert		*c;
	size_t			 seen = 0, i;
	int			 stale = 0;

	/*
	 * The bundles were read with these very blocks at hand, and none
	 * had to be decoded: every block is there, naming the certificate
	 * it names.  The index has others only when it has more.
	 */
	if (p->handed && p->want->decoded == 0 &&
	    certset_bad(p->want) == 0 && !(p->flags & STORE_NOPRUNE))
		return (p->want->fromfiles + xm->count != m->count);

	RB_FOREACH(c, certtree, &p->want->tree) {
		if (c->bad) {
			/* The index named another certificate: forget it. */
			stale = 1;
			if ((b = blockmap_find(m, c->td, c->trusted)) != NULL)
				BLOCKMAP_STATE(m, b) |= BLOCK_BAD;
		}
		if (!block_recorded(c))
			continue;
		if ((b = blockmap_find(m, c->td, c->trusted)) == NULL ||
		    !block_names(m, b, c->fp, c->aux ? c->tid : NULL))
			stale = 1;
		else if (!(BLOCKMAP_STATE(m, b) & BLOCK_SEEN)) {
			BLOCKMAP_STATE(m, b) |= BLOCK_SEEN;
			seen++;
		}
	}
	for (i = 0; i < xm->size; i++) {
		if (xm->state[i] == 0)
			continue;
		if ((b = blockmap_find(m, xm->slots[i].td,
		    xm->state[i] & BLOCK_TRUSTED)) == NULL ||
		    !block_names(m, b, xm->slots[i].fp,
		    (xm->state[i] & BLOCK_AUX) ? xm->slots[i].tid : NULL))
			stale = 1;
		else if (!(BLOCKMAP_STATE(m, b) & BLOCK_SEEN)) {
			BLOCKMAP_STATE(m, b) |= BLOCK_SEEN;
			seen++;
		}
	}
	if (!(p->flags & STORE_NOPRUNE) && seen != m->count)
		stale = 1;
	return (stale);
}

#define TRUST_LEN	(2 + 2 * CERT_FPLEN)
#define BLOCK_LINE	(2 + 2 * (2 * CERT_FPLEN + 1) + TRUST_LEN + 2)
#define FILE_LINE	(32 + 4 * 22 + 2 * CERT_FPLEN + 1 + TRUST_LEN + 1)

/* What scan_trust reads, and the line's newline. */
static char *
fmt_trust(char *d, int trusted, const unsigned char *tid)
{
	*d++ = trusted ? '1' : '0';
	if (tid != NULL) {
		*d++ = ' ';
		d = fmt_hex(d, tid);
	}
	*d++ = '\n';
	return (d);
}

static char *
fmt_block(char *d, const unsigned char *td, const unsigned char *fp,
    int trusted, const unsigned char *tid)
{
	*d++ = 't';
	*d++ = ' ';
	d = fmt_hex(d, td);
	*d++ = ' ';
	d = fmt_hex(d, fp);
	*d++ = ' ';
	return (fmt_trust(d, trusted, tid));
}

static int
index_write(struct pass *p)
{
	struct blockmap		*m = &p->s->idx.blocks, *xm = &p->want->extra;
	struct entry		*e;
	struct fstate		*st;
	struct cert		*c;
	char			 tmp[40], *buf, *d;
	size_t			 nents, i, k, len;
	int			 fd;

	nents = p->nents;
	len = sizeof(INDEX_MAGIC) + nents * FILE_LINE +
	    (p->want->count + p->want->extra.count +
	    p->s->idx.blocks.count) * BLOCK_LINE;
	if ((buf = malloc(len)) == NULL) {
		log_warn("%s/%s", p->dir, STORE_INDEX);
		return (-1);
	}
	d = buf;
	memcpy(d, INDEX_MAGIC, sizeof(INDEX_MAGIC) - 1);
	d += sizeof(INDEX_MAGIC) - 1;
	for (k = 0; k < p->nents; k++) {
		e = p->ents[k];
		if (e->plan == P_KEEP ||
		    (e->fixed && e->owned && e->known && e->idknown))
			st = &e->st;
		else if ((e->plan == P_ADD || e->plan == P_REPLACE) &&
		    e->w != NULL && e->w->committed)
			st = &e->w->newst;
		else
			continue;
		d = fmt_name(d, e->hash, e->n);
		*d++ = ' ';
		d = fmt_unum(d, (unsigned long long)st->ino);
		*d++ = ' ';
		d = fmt_num(d, (long long)st->size);
		*d++ = ' ';
		d = fmt_num(d, (long long)st->ctim.tv_sec);
		*d++ = ' ';
		d = fmt_num(d, (long long)st->ctim.tv_nsec);
		*d++ = ' ';
		if (e->put != NULL && e->w != NULL && e->w->committed) {
			d = fmt_hex(d, e->put->fp);
			*d++ = ' ';
			d = fmt_trust(d, e->put->trusted, e->put->aux ?
			    e->put->tid : NULL);
		} else {
			d = fmt_hex(d, e->fp);
			*d++ = ' ';
			d = fmt_trust(d, e->trusted, e->aux ? e->tid : NULL);
		}
	}
	RB_FOREACH(c, certtree, &p->want->tree)
		if (block_recorded(c))
			d = fmt_block(d, c->td, c->fp, c->trusted,
			    c->aux ? c->tid : NULL);
	for (i = 0; i < xm->size; i++)
		if (xm->state[i] != 0)
			d = fmt_block(d, xm->slots[i].td, xm->slots[i].fp,
			    xm->state[i] & BLOCK_TRUSTED,
			    (xm->state[i] & BLOCK_AUX) ? xm->slots[i].tid :
			    NULL);
	/* Damaged bundles: what was not read this time is kept. */
	if (p->flags & STORE_NOPRUNE)
		for (i = 0; i < m->size; i++)
			if ((m->state[i] & (BLOCK_USED | BLOCK_BAD |
			    BLOCK_SEEN)) == BLOCK_USED)
				d = fmt_block(d, m->slots[i].td,
				    m->slots[i].fp, m->state[i] &
				    BLOCK_TRUSTED, (m->state[i] & BLOCK_AUX) ?
				    m->slots[i].tid : NULL);
	len = (size_t)(d - buf);

	if ((fd = file_tmp_open(p->dirfd, tmp, sizeof(tmp), 0644)) == -1) {
		log_warn("%s/%s: cannot create", p->dir, tmp);
		free(buf);
		return (-1);
	}
	if (file_write_all(fd, buf, len) == -1) {
		log_warn("%s/%s: writing", p->dir, STORE_INDEX);
		close(fd);
		unlinkat(p->dirfd, tmp, 0);
		free(buf);
		return (-1);
	}
	free(buf);
	if (close(fd) == -1) {
		log_warn("%s/%s: writing", p->dir, STORE_INDEX);
		unlinkat(p->dirfd, tmp, 0);
		return (-1);
	}
	if (renameat(p->dirfd, tmp, p->dirfd, STORE_INDEX) == -1) {
		log_warn("%s/%s: rename", p->dir, STORE_INDEX);
		unlinkat(p->dirfd, tmp, 0);
		return (-1);
	}
	return (0);
}

/* Whether a certificate proved not to be what the index said. */
static int
any_bad(struct pass *p)
{
	struct cert	*c;

	RB_FOREACH(c, certtree, &p->want->tree)
		if (c->bad)
			return (1);
	return (0);
}

static int
execute(struct pass *p)
{
	struct entry	*e;
	char		 name[32];
	size_t		 k;
	int		 writes = 0, removes = 0, failed = 0, blocks;

	for (k = 0; k < p->nents; k++) {
		e = p->ents[k];
		if (e->plan != P_ADD && e->plan != P_REPLACE)
			continue;
		if (write_tmp(p, e) == -1) {
			failed = 1;
			break;
		}
		writes++;
	}
	if (!failed && writes > 0 && osdep_dir_flush(p->dirfd) == -1) {
		log_warn("%s: flushing", p->dir);
		failed = 1;
	}
	if (failed) {
		/* Nothing is in place yet: take every temporary back. */
		for (k = 0; k < p->nents; k++)
			if (p->ents[k]->w != NULL &&
			    p->ents[k]->w->tmp[0] != '\0')
				unlinkat(p->dirfd, p->ents[k]->w->tmp, 0);
		if (!p->said)
			log_warnx("%s: nothing was changed", p->dir);
		p->st->errors++;
		/* Not again next time: the index forgets a wrong block. */
		if (any_bad(p)) {
			(void)blocks_stale(p);
			index_write(p);
		}
		return (-1);
	}
	for (k = 0; k < p->nents; k++) {
		e = p->ents[k];
		if (e->plan != P_ADD && e->plan != P_REPLACE)
			continue;
		if (commit(p, e) == -1) {
			p->st->errors++;
			failed = 1;
		} else if (e->plan == P_ADD)
			p->st->added++;
		else
			p->st->replaced++;
	}
	if (writes > 0 && fsync(p->dirfd) == -1)
		log_warn("%s: fsync", p->dir);

	/*
	 * A certificate that moves to another number is removed from the
	 * old one only after it is in place: when anything could not be
	 * put in place, a removal might take its last copy.  Removals go
	 * from the highest number down, so that a pass cut short (a crash,
	 * kill -9) never leaves a gap in a hash's numbers, where OpenSSL's
	 * lookup would stop.
	 */
	if (failed)
		log_warnx("%s: not every file could be put in place; removing "
		    "nothing this time", p->dir);
	for (k = p->nents; k-- > 0; ) {
		e = p->ents[k];
		if (e->plan != P_REMOVE || failed)
			continue;
		slot_name(e->hash, e->n, name, sizeof(name));
		if (!still_ours(p, e, name)) {
			/* Not what was asked: the pass failed (and is retried). */
			log_warnx("%s/%s: changed meanwhile; left alone",
			    p->dir, name);
			p->st->errors++;
			continue;
		}
		if (unlinkat(p->dirfd, name, 0) == -1) {
			log_warn("%s/%s: remove", p->dir, name);
			p->st->errors++;
			continue;
		}
		p->st->removed++;
		removes++;
	}
	if (removes > 0 && fsync(p->dirfd) == -1)
		log_warn("%s: fsync", p->dir);
	blocks = blocks_stale(p);
	if (p->hits != p->s->idx.nrecs || blocks)
		p->stale = 1;
	if ((writes > 0 || removes > 0 || p->stale) && index_write(p) == -1)
		p->st->errors++;
	return (p->st->errors > 0 ? -1 : 0);
}

static void
pass_report(struct pass *p, enum store_action a, const char *name,
    const struct cert *c)
{
	if (p->report != NULL)
		p->report(p->arg, a, name, c);
}

static void
dryrun(struct pass *p)
{
	struct entry	*e;
	char		 name[32];
	size_t		 k;

	for (k = 0; k < p->nents; k++) {
		e = p->ents[k];
		slot_name(e->hash, e->n, name, sizeof(name));
		switch (e->plan) {
		case P_ADD:
			p->st->added++;
			pass_report(p, STORE_ADD, name, e->put);
			break;
		case P_REPLACE:
			p->st->replaced++;
			pass_report(p, STORE_REPLACE, name, e->put);
			break;
		case P_REMOVE:
			p->st->removed++;
			pass_report(p, STORE_REMOVE, name, NULL);
			break;
		default:
			break;
		}
	}
}

static int
open_dir(const char *dir)
{
	struct stat	st;
	int		fd, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1)
		return (fd);
	saved = errno;		/* open's reason, whatever lstat does */
	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
		log_warnx("cert_dir %s: is a symbolic link; smtlsd does not "
		    "follow it: set cert_dir to the real directory", dir);
	else if (saved == ENOENT)
		log_warnx("cert_dir %s: does not exist; create it "
		    "(mkdir -m 755 %s)", dir, dir);
	else if (saved == ENOTDIR)
		log_warnx("cert_dir %s: not a directory", dir);
	else {
		errno = saved;
		log_warn("cert_dir %s", dir);
	}
	return (-1);
}

/*
 * Makes dir hold exactly the certificates of want (or, with
 * STORE_NOPRUNE, at least them).  Returns 0, or -1 when anything failed;
 * every problem is logged with its path, and whatever could not be done
 * leaves the previous state in place.
 */
int
store_sync(struct store *s, const char *dir, struct certset *want,
    int flags, struct store_stats *st, store_report_fn report, void *arg)
{
	struct pass	 p;
	struct entslab	*slab, *next;
	size_t		 k;
	int		 rv = -1;

	memset(st, 0, sizeof(*st));
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.dir = dir;
	p.flags = flags;
	p.want = want;
	p.st = st;
	p.report = report;
	p.arg = arg;
	/* Its blocks are only for reading the bundles. */
	p.handed = want->known == &s->idx.blocks && s->idx.handed;
	want->known = NULL;

	if ((p.dirfd = open_dir(dir)) == -1) {
		st->errors++;
		idx_clear(&s->idx);
		return (-1);
	}
	if (flock(p.dirfd, (flags & STORE_DRYRUN) ? LOCK_SH : LOCK_EX) == -1)
		log_warn("%s: lock", dir);
	index_load(s, dir, p.dirfd, 0, &p.stale);
	if (!s->idx.handed)
		p.handed = 0;	/* read again: not the blocks the set saw */
	if (scan(s, &p) == -1 || plan(&p) == -1)
		goto out;
	if (flags & STORE_DRYRUN) {
		dryrun(&p);
		rv = st->errors > 0 ? -1 : 0;
	} else
		rv = execute(&p);
out:
	if (rv == -1 && st->errors == 0)
		st->errors++;
	for (k = 0; k < p.nents; k++)
		free(p.ents[k]->w);
	free(p.ents);
	free(p.byfp);
	free(p.adds);
	free(p.slotbuf);
	for (slab = p.slabs; slab != NULL; slab = next) {
		next = slab->next;
		free(slab);
	}
	/* Read again next time: a daemon keeps no copy between passes. */
	idx_clear(&s->idx);
	close(p.dirfd);
	return (rv);
}
