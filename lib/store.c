/*
 * The CA store.  Makes a directory hold exactly the wanted certificates
 * as <subject_hash>.N files, the names openssl rehash gives, without
 * touching any file that is not ours.  One pass, store_sync, goes
 *
 *	scan	 read the directory; sweep temporary files a crash left
 *	classify each hash-named entry gets a state (enum fstate)
 *	plan	 each hash: which file stays, is written, or goes
 *	commit	 write, put in place, then remove; write the index
 *
 * Ours: a regular file whose first line is our header, naming the
 * fingerprint of the certificate it holds.  The index (store_index.c)
 * records the inode, size, ctime and identity of each file we wrote, so
 * that a pass over unchanged files opens none of them.  The ctime, which
 * no one can set back (unlike the mtime, see touch -r), changes with any
 * write, chmod or link to the file; a file whose ctime is not what the
 * index says is read again.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certset.h"
#include "file.h"
#include "log.h"
#include "osdep.h"
#include "store.h"
#include "store_index.h"

#define HDR_PREFIX	"# smtlsd sha256:"
#define HDR_SUFFIX	" (written by smtlsd(8), do not edit)\n"
#define HDR_LEN		(sizeof(HDR_PREFIX) - 1 + 2 * CERT_FPLEN + \
			    sizeof(HDR_SUFFIX) - 1)
#define OWNED_MAX	(1024 * 1024)

/* What a hash-named entry of the directory is, once classified. */
enum fstate {
	FS_FOREIGN,		/* not ours: never touched */
	FS_VOUCHED,		/* ours as the index recorded it: holds id,
				   and was written under this name */
	FS_HOLDS,		/* ours, read: holds exactly id, as we
				   would write it */
	FS_STALE		/* ours, but not what we would write now */
};

/* What the pass does with it. */
enum plan {
	P_NONE,
	P_KEEP,
	P_ADD,
	P_REPLACE,
	P_REMOVE
};

struct entry {
	unsigned long	 hash;
	unsigned long	 n;
	enum fstate	 state;
	enum plan	 plan;
	int		 fixed;		/* keeps its number: see plan_bucket */
	unsigned char	 id[CERT_FPLEN];	/* FS_VOUCHED, FS_HOLDS */
	struct filestamp st;
	struct cert	*put;		/* what P_ADD and P_REPLACE write */
	char		 tmp[40];	/* its temporary name, or "" */
	struct filestamp newst;		/* of what was written */
	int		 committed;	/* in place under its name */
};

/* A wanted certificate and its hash. */
struct want {
	struct cert	*c;
	unsigned long	 hash;
};

struct warned {
	RB_ENTRY(warned) entry;
	char		 name[32];
};
RB_HEAD(warntree, warned);

struct store {
	struct warntree	 warned;	/* foreign names reported already */
};

struct pass {
	struct store		*s;
	const char		*dir;
	int			 dirfd;
	int			 flags;
	struct certset		*set;
	struct store_stats	*st;
	struct store_index	 idx;
	struct entry		**ents;		/* by name, after scan */
	size_t			 nents;
	size_t			 entcap;
	struct entry		**byid;		/* vouched ones, by id */
	size_t			 nbyid;
	struct want		*wants;		/* by hash, then bundle order */
	size_t			 nwants;
	struct cert		**ids;		/* the wanted ones, by id */
	int			 ids_sorted;	/* ids is filled in */
	struct entry		**adds;		/* new names, planned */
	size_t			 nadds;
	size_t			 addcap;
	store_report_fn		 report;
	void			*arg;
	size_t			 hits;		/* files the index vouched */
	int			 stale;		/* the index is written again */
	int			 said;		/* the failure is reported */
};

static int
warned_cmp(struct warned *a, struct warned *b)
{
	return (strcmp(a->name, b->name));
}

RB_GENERATE_STATIC(warntree, warned, entry, warned_cmp)

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
	free(s);
}

static void
ent_name(const struct entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%08lx.%lu", e->hash, e->n);
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct entry	*x = *(struct entry * const *)a;
	const struct entry	*y = *(struct entry * const *)b;

	if (x->hash != y->hash)
		return (x->hash < y->hash ? -1 : 1);
	return (x->n < y->n ? -1 : x->n > y->n);
}

static int
ent_idcmp(const void *a, const void *b)
{
	const struct entry	*x = *(struct entry * const *)a;
	const struct entry	*y = *(struct entry * const *)b;

	return (memcmp(x->id, y->id, CERT_FPLEN));
}

static int
want_cmp(const void *a, const void *b)
{
	const struct want	*x = a, *y = b;

	if (x->hash != y->hash)
		return (x->hash < y->hash ? -1 : 1);
	return (x->c->seq < y->c->seq ? -1 : x->c->seq > y->c->seq);
}

static int
cert_idcmp(const void *a, const void *b)
{
	const struct cert	*x = *(struct cert * const *)a;
	const struct cert	*y = *(struct cert * const *)b;

	return (memcmp(x->id, y->id, CERT_FPLEN));
}

/*
 * Appends a cleared entry to the n of *arr (room for *cap).  Returns it,
 * or NULL out of memory.
 */
static struct entry *
ent_new(struct entry ***arr, size_t *n, size_t *cap)
{
	struct entry	**ents, *e;
	size_t		  ncap;

	if (*n == *cap) {
		ncap = *cap == 0 ? 256 : 2 * *cap;
		if ((ents = reallocarray(*arr, ncap, sizeof(*ents))) == NULL)
			return (NULL);
		*arr = ents;
		*cap = ncap;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (NULL);
	(*arr)[(*n)++] = e;
	return (e);
}

/* ------------------------------------------------------------ classify */

/*
 * The exact bytes we write for c: our header line, then PEM.  Returns
 * 0, or -1 after logging.
 */
static int
owned_content(const struct cert *c, char **out, size_t *outlen)
{
	char	*pem, *buf, hex[2 * CERT_FPLEN + 1];
	size_t	 pemlen;

	if (cert_pem(c, &pem, &pemlen) == -1)
		return (-1);
	if ((buf = malloc(HDR_LEN + pemlen + 1)) == NULL) {
		log_warn("%s:%zu", c->file, c->line);
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

/*
 * The state of the file of e, read: not ours, ours and exactly what we
 * would write for a wanted certificate, or ours and anything else.
 */
static enum fstate
classify_by_content(struct pass *p, struct entry *e, const char *name)
{
	struct stat	 st;
	struct cert	*c;
	unsigned char	 fp[CERT_FPLEN];
	enum fstate	 state = FS_FOREIGN;
	char		*buf = NULL, *want = NULL;
	size_t		 len, wantlen;
	int		 fd;

	if ((fd = openat(p->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return (FS_FOREIGN);
	if (fstat(fd, &st) == -1 || st.st_ino != e->st.ino ||
	    file_read_fd(fd, OWNED_MAX, &buf, &len) == -1)
		goto out;
	if (len < HDR_LEN ||
	    memcmp(buf, HDR_PREFIX, sizeof(HDR_PREFIX) - 1) != 0 ||
	    cert_fpparse(buf + sizeof(HDR_PREFIX) - 1, fp) == -1)
		goto out;
	state = FS_STALE;
	if ((c = certset_find(p->set, fp)) != NULL &&
	    owned_content(c, &want, &wantlen) == 0) {
		if (wantlen == len && memcmp(want, buf, len) == 0) {
			memcpy(e->id, c->id, CERT_FPLEN);
			state = FS_HOLDS;
		}
		free(want);
	}
out:
	free(buf);
	close(fd);
	return (state);
}

static void
classify(struct pass *p, struct entry *e)
{
	const struct index_rec	*r;
	char			 name[32];

	e->state = FS_FOREIGN;
	if (!S_ISREG(e->st.mode))
		return;		/* a link or anything else: not ours */
	r = store_index_find(&p->idx, e->hash, e->n);
	if (r != NULL && r->st.ino == e->st.ino && r->st.size == e->st.size &&
	    r->st.ctim.tv_sec == e->st.ctim.tv_sec &&
	    r->st.ctim.tv_nsec == e->st.ctim.tv_nsec) {
		memcpy(e->id, r->id, CERT_FPLEN);
		e->state = FS_VOUCHED;
		p->hits++;
	} else {
		ent_name(e, name, sizeof(name));
		if ((e->state = classify_by_content(p, e, name)) != FS_FOREIGN)
			p->stale = 1;
	}
	/* Ours but no longer 0644 (chmod): written again. */
	if (e->state != FS_FOREIGN && (e->st.mode & 07777) != 0644)
		e->state = FS_STALE;
}

/*
 * Why OpenSSL's CApath lookup could not load the file at name, or NULL
 * when it could.  A FIFO or a device is not opened at all.
 */
static const char *
foreign_unloadable(struct pass *p, const char *name)
{
	struct stat	 st;
	X509		*x = NULL;
	BIO		*bio;
	char		*buf;
	size_t		 len;
	int		 fd, rv;

	if (fstatat(p->dirfd, name, &st, 0) == -1)
		return ("a dangling link");
	if (!S_ISREG(st.st_mode))
		return ("not a regular file");
	if ((fd = openat(p->dirfd, name, O_RDONLY | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return ("unreadable");
	rv = file_read_fd(fd, OWNED_MAX, &buf, &len);
	close(fd);
	if (rv == -1)
		return (errno == EFBIG ? NULL : "unreadable");
	if (len > 0 && (bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	free(buf);
	if (len == 0)
		return ("an empty file");
	if (x == NULL)
		return ("not a PEM certificate");
	X509_free(x);
	return (NULL);
}

/* A foreign entry: counted every time, said once by this store. */
static void
warn_foreign(struct pass *p, const char *name)
{
	struct warned	*w;
	const char	*why;

	p->st->foreign++;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	strlcpy(w->name, name, sizeof(w->name));
	if (RB_INSERT(warntree, &p->s->warned, w) != NULL) {
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

/* ---------------------------------------------------------------- scan */

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
		ent_name(e, name, sizeof(name));
		if (fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			free(e);
			continue;
		}
		filestamp_set(&e->st, &st);
		p->ents[j++] = e;
	}
	p->nents = j;
}

/*
 * Reads the directory: removes temporary files a crash left behind,
 * then records and classifies every hash-named entry, ours or not, in
 * name order.  Returns 0, or -1 after logging.
 */
static int
scan(struct pass *p)
{
	struct dirent	*de;
	struct entry	*e;
	struct stat	 st;
	DIR		*d;
	unsigned long	 hash, n;
	size_t		 i, swept = 0;
	int		 fd;
	char		 name[32];

	if ((fd = dup(p->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("%s", p->dir);
		if (fd != -1)
			close(fd);
		return (-1);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STORE_TMPPFX,
		    sizeof(STORE_TMPPFX) - 1) == 0) {
			if (!(p->flags & STORE_DRYRUN) &&
			    unlinkat(p->dirfd, de->d_name, 0) == 0) {
				log_info("%s/%s: removed a temporary file "
				    "left by an interrupted pass", p->dir,
				    de->d_name);
				swept++;
			}
			continue;
		}
		if (store_index_name(de->d_name, &hash, &n) == -1 ||
		    fstatat(p->dirfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;	/* not a name of ours, or gone */
		if ((e = ent_new(&p->ents, &p->nents, &p->entcap)) == NULL) {
			log_warn("%s", p->dir);
			closedir(d);
			return (-1);
		}
		e->hash = hash;
		e->n = n;
		filestamp_set(&e->st, &st);
	}
	if (errno != 0) {
		log_warn("%s: readdir", p->dir);
		closedir(d);
		return (-1);
	}
	closedir(d);
	if (swept > 0)
		restat(p);
	if (p->nents > 1)
		qsort(p->ents, p->nents, sizeof(*p->ents), ent_cmp);

	if ((p->byid = reallocarray(NULL, p->nents + 1,
	    sizeof(*p->byid))) == NULL) {
		log_warn("%s", p->dir);
		return (-1);
	}
	for (i = 0; i < p->nents; i++) {
		e = p->ents[i];
		classify(p, e);
		if (e->state == FS_FOREIGN) {
			ent_name(e, name, sizeof(name));
			warn_foreign(p, name);
		} else if (e->state == FS_VOUCHED)
			p->byid[p->nbyid++] = e;
	}
	if (p->nbyid > 1)
		qsort(p->byid, p->nbyid, sizeof(*p->byid), ent_idcmp);
	return (0);
}

/* ---------------------------------------------------------------- plan */

/* A vouched file holding id, or NULL. */
static struct entry *
vouched_find(struct pass *p, const unsigned char *id)
{
	struct entry	key, *kp = &key, **e;

	memcpy(key.id, id, CERT_FPLEN);
	e = p->nbyid == 0 ? NULL : bsearch(&kp, p->byid, p->nbyid,
	    sizeof(*p->byid), ent_idcmp);
	return (e != NULL ? *e : NULL);
}

/*
 * Whether the file of e holds a wanted certificate.  Only asked with
 * STORE_NOPRUNE: the certificates by id are sorted the first time.
 */
static int
wanted(struct pass *p, const struct entry *e)
{
	struct cert	key, *kp = &key;
	size_t		i;

	if (e->state == FS_STALE || e->state == FS_FOREIGN || p->nwants == 0)
		return (0);
	if (!p->ids_sorted) {
		for (i = 0; i < p->nwants; i++)
			p->ids[i] = p->wants[i].c;
		qsort(p->ids, p->nwants, sizeof(*p->ids), cert_idcmp);
		p->ids_sorted = 1;
	}
	memcpy(key.id, e->id, CERT_FPLEN);
	return (bsearch(&kp, p->ids, p->nwants, sizeof(*p->ids),
	    cert_idcmp) != NULL);
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

	ent_name(e, name, sizeof(name));
	if ((why = foreign_unloadable(p, name)) == NULL)
		return;
	log_warnx("%s/%s: OpenSSL cannot load it (%s) and stops there, so "
	    "the certificates smtlsd keeps at %08lx.%lu to %08lx.%lu are out "
	    "of reach; remove it or put a certificate there (smtlsd never "
	    "touches it)", p->dir, name, why, e->hash, e->n + 1, e->hash,
	    last);
	p->st->errors++;
}

/*
 * Plans one hash: the nw certificates of w, in bundle order, and the ne
 * entries of ents, in number order.  An entry is fixed (keeps its
 * number and content) when it is not ours, or, when the input is
 * damaged (STORE_NOPRUNE), when it is ours but holds no wanted
 * certificate.  The certificates take the numbers not held by fixed
 * entries, in order; a file that already holds the certificate of its
 * number stays.  Linear in the files and certificates of the hash.
 */
static int
plan_bucket(struct pass *p, struct want *w, size_t nw, struct entry **ents,
    size_t ne)
{
	struct entry	*e;
	unsigned long	 n, last = 0;
	size_t		 i, k;
	int		 noprune = p->flags & STORE_NOPRUNE;

	for (i = 0; i < ne; i++) {
		e = ents[i];
		e->fixed = e->state == FS_FOREIGN || (noprune && !wanted(p, e));
		/* Kept, but what it holds is not known: not recorded. */
		if (e->fixed && e->state == FS_STALE)
			p->stale = 1;
	}
	if (nw > 1)
		p->st->collisions++;

	/* Each certificate at the next number no fixed entry holds. */
	for (i = 0, k = 0, n = 0; i < nw; n++) {
		while (k < ne && ents[k]->n < n)
			k++;
		e = k < ne && ents[k]->n == n ? ents[k] : NULL;
		if (e != NULL && e->fixed)
			continue;
		if (e == NULL) {
			if ((e = ent_new(&p->adds, &p->nadds,
			    &p->addcap)) == NULL)
				return (-1);
			e->hash = w[i].hash;
			e->n = n;
			e->plan = P_ADD;
			e->put = w[i].c;
		} else if (e->state != FS_STALE &&
		    memcmp(e->id, w[i].c->id, CERT_FPLEN) == 0) {
			e->plan = P_KEEP;
			p->st->unchanged++;
		} else {
			e->plan = P_REPLACE;
			e->put = w[i].c;
		}
		last = n;
		i++;
	}

	/*
	 * OpenSSL's lookup stops at the first number it cannot load: a
	 * foreign entry there hides our certificates after it.  Never
	 * touched, but the pass failed, every time, until it is fixed.
	 */
	for (i = 0; nw > 0 && i < ne && ents[i]->n < last; i++)
		if (ents[i]->state == FS_FOREIGN)
			foreign_blocks(p, ents[i], last);

	/* Ours, not fixed, at no certificate's number: stale. */
	for (i = 0; i < ne; i++)
		if (!ents[i]->fixed && ents[i]->plan == P_NONE)
			ents[i]->plan = P_REMOVE;
	return (0);
}

/*
 * Resolves the hash of each wanted certificate (from the name of the
 * file the index vouches holds it, decoding it otherwise) and plans
 * every hash.  Returns 0, or -1 after logging.
 */
static int
plan(struct pass *p)
{
	struct cert	*c;
	struct entry	*e, **ents;
	size_t		 nents = p->nents, i, j, ki, kj;
	unsigned long	 hash;

	if ((p->wants = reallocarray(NULL, p->set->count + 1,
	    sizeof(*p->wants))) == NULL ||
	    (p->ids = reallocarray(NULL, p->set->count + 1,
	    sizeof(*p->ids))) == NULL)
		goto fail;
	/*
	 * A file's name gives its certificate's hash only when the index
	 * says we wrote it under that name: a file of ours that was renamed
	 * or copied says nothing about the hash.
	 */
	RB_FOREACH(c, certtree, &p->set->tree) {
		if ((e = vouched_find(p, c->id)) != NULL)
			hash = e->hash;
		else if (cert_hash(c) == 0)
			hash = c->hash;
		else {
			p->st->errors++;
			p->flags |= STORE_NOPRUNE;
			continue;
		}
		p->wants[p->nwants].c = c;
		p->wants[p->nwants++].hash = hash;
	}
	if (p->nwants > 1)
		qsort(p->wants, p->nwants, sizeof(*p->wants), want_cmp);
	p->st->certs = p->nwants;

	/* Both sorted by hash: one hash at a time. */
	for (i = 0, j = 0; i < p->nwants || j < nents; i = ki, j = kj) {
		if (j == nents || (i < p->nwants &&
		    p->wants[i].hash < p->ents[j]->hash))
			hash = p->wants[i].hash;
		else
			hash = p->ents[j]->hash;
		for (ki = i; ki < p->nwants && p->wants[ki].hash == hash; ki++)
			;
		for (kj = j; kj < nents && p->ents[kj]->hash == hash; kj++)
			;
		/* No entries: ents may be NULL, and NULL + 0 is undefined. */
		if (plan_bucket(p, p->wants + i, ki - i, kj > j ? p->ents + j :
		    NULL, kj - j) == -1)
			goto fail;
	}
	/* The new names join the others, in order. */
	if (p->nadds > 0) {
		if ((ents = reallocarray(p->ents, p->nents + p->nadds,
		    sizeof(*ents))) == NULL)
			goto fail;
		memcpy(ents + p->nents, p->adds, p->nadds * sizeof(*ents));
		p->ents = ents;
		p->nents += p->nadds;
		p->entcap = p->nents;
		p->nadds = 0;
		qsort(p->ents, p->nents, sizeof(*p->ents), ent_cmp);
	}
	return (0);
fail:
	log_warn("%s: planning", p->dir);
	return (-1);
}

/* -------------------------------------------------------------- commit */

static int
write_tmp(struct pass *p, struct entry *e)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 fd;

	if (owned_content(e->put, &buf, &len) == -1)
		return (-1);
	if ((fd = file_tmp_open(p->dirfd, e->tmp, sizeof(e->tmp),
	    0644)) == -1) {
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			log_warnx("cert_dir %s: not writable (%s); nothing was "
			    "changed", p->dir, strerror(errno));
		else
			log_warn("cert_dir %s: cannot create %s; nothing was "
			    "changed", p->dir, e->tmp);
		p->said = 1;
		e->tmp[0] = '\0';
		free(buf);
		return (-1);
	}
	if (fchmod(fd, 0644) == -1 || file_write_all(fd, buf, len) == -1 ||
	    osdep_file_written(fd) == -1 || fstat(fd, &st) == -1)
		goto fail;
	filestamp_set(&e->newst, &st);
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	free(buf);
	return (0);
fail:
	log_warn("%s/%s: writing", p->dir, e->tmp);
	if (fd != -1)
		close(fd);
	unlinkat(p->dirfd, e->tmp, 0);
	e->tmp[0] = '\0';
	free(buf);
	return (-1);
}

/* True when the file at name is still the one we classified. */
static int
still_ours(struct pass *p, const struct entry *e, const char *name)
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

	e->committed = 1;
	if (fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_ino == e->newst.ino && st.st_dev == e->newst.dev)
		filestamp_set(&e->newst, &st);
}

static int
put_in_place(struct pass *p, struct entry *e)
{
	char	name[32];

	ent_name(e, name, sizeof(name));
	if (e->plan == P_ADD) {
		if (linkat(p->dirfd, e->tmp, p->dirfd, name, 0) == 0) {
			unlinkat(p->dirfd, e->tmp, 0);
			committed(p, e, name);
			return (0);
		}
		if (errno == EEXIST) {
			log_warnx("%s/%s: appeared while smtlsd was writing "
			    "it; left alone", p->dir, name);
			unlinkat(p->dirfd, e->tmp, 0);
			return (-1);
		}
		/* File systems without hard links. */
	} else if (!still_ours(p, e, name)) {
		log_warnx("%s/%s: changed while smtlsd was writing it; left "
		    "alone", p->dir, name);
		unlinkat(p->dirfd, e->tmp, 0);
		return (-1);
	}
	if (renameat(p->dirfd, e->tmp, p->dirfd, name) == -1) {
		log_warn("%s/%s: rename", p->dir, name);
		unlinkat(p->dirfd, e->tmp, 0);
		return (-1);
	}
	committed(p, e, name);
	return (0);
}

/*
 * The index of what the directory holds now: files kept, ours left in
 * place whose content is known, and files written.
 */
static int
write_index(struct pass *p)
{
	struct index_rec	*recs, *r;
	struct entry		*e;
	size_t			 i, n = 0;
	int			 rv;

	if ((recs = reallocarray(NULL, p->nents + 1, sizeof(*recs))) == NULL) {
		log_warn("%s/%s", p->dir, STORE_INDEX);
		return (-1);
	}
	for (i = 0; i < p->nents; i++) {
		e = p->ents[i];
		r = &recs[n];
		if (e->committed) {
			r->st = e->newst;
			memcpy(r->id, e->put->id, CERT_FPLEN);
		} else if ((e->plan == P_KEEP || e->fixed) &&
		    (e->state == FS_VOUCHED || e->state == FS_HOLDS)) {
			r->st = e->st;
			memcpy(r->id, e->id, CERT_FPLEN);
		} else
			continue;
		r->hash = e->hash;
		r->n = e->n;
		n++;
	}
	rv = store_index_write(p->dirfd, p->dir, recs, n);
	free(recs);
	return (rv);
}

/*
 * Writes every new file to a temporary name, puts them in place, then
 * removes the stale ones, and writes the index when it changed.
 * Returns 0, or -1 when anything failed.
 */
static int
commit(struct pass *p)
{
	struct entry	*e;
	char		 name[32];
	size_t		 k;
	int		 writes = 0, removes = 0, failed = 0;

	for (k = 0; k < p->nents && !failed; k++) {
		e = p->ents[k];
		if (e->plan != P_ADD && e->plan != P_REPLACE)
			continue;
		if (write_tmp(p, e) == -1)
			failed = 1;
		else
			writes++;
	}
	if (!failed && writes > 0 && osdep_dir_flush(p->dirfd) == -1) {
		log_warn("%s: flushing", p->dir);
		failed = 1;
	}
	if (failed) {
		/* Nothing is in place yet: take every temporary back. */
		for (k = 0; k < p->nents; k++)
			if (p->ents[k]->tmp[0] != '\0')
				unlinkat(p->dirfd, p->ents[k]->tmp, 0);
		if (!p->said)
			log_warnx("%s: nothing was changed", p->dir);
		p->st->errors++;
		return (-1);
	}
	for (k = 0; k < p->nents; k++) {
		e = p->ents[k];
		if (e->plan != P_ADD && e->plan != P_REPLACE)
			continue;
		if (put_in_place(p, e) == -1) {
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
	for (k = p->nents; k-- > 0 && !failed; ) {
		e = p->ents[k];
		if (e->plan != P_REMOVE)
			continue;
		ent_name(e, name, sizeof(name));
		if (!still_ours(p, e, name)) {
			/* Not what was asked: the pass failed, is retried. */
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
	if (p->hits != p->idx.nrecs)
		p->stale = 1;
	if ((writes > 0 || removes > 0 || p->stale) && write_index(p) == -1)
		p->st->errors++;
	return (p->st->errors > 0 ? -1 : 0);
}

/* What a dry run would do, told to the report function. */
static void
dryrun(struct pass *p)
{
	struct entry	*e;
	char		 name[32];
	size_t		 k;

	for (k = 0; k < p->nents; k++) {
		e = p->ents[k];
		ent_name(e, name, sizeof(name));
		switch (e->plan) {
		case P_ADD:
			p->st->added++;
			if (p->report != NULL)
				p->report(p->arg, STORE_ADD, name, e->put);
			break;
		case P_REPLACE:
			p->st->replaced++;
			if (p->report != NULL)
				p->report(p->arg, STORE_REPLACE, name, e->put);
			break;
		case P_REMOVE:
			p->st->removed++;
			if (p->report != NULL)
				p->report(p->arg, STORE_REMOVE, name, NULL);
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
 * Makes dir hold exactly the certificates of set (or, with
 * STORE_NOPRUNE, at least them).  Returns 0, or -1 when anything failed;
 * every problem is logged with its path, and whatever could not be done
 * leaves the previous state in place.
 */
int
store_sync(struct store *s, const char *dir, struct certset *set, int flags,
    struct store_stats *st, store_report_fn report, void *arg)
{
	struct pass	 p;
	size_t		 k;
	int		 rv = -1;

	memset(st, 0, sizeof(*st));
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.dir = dir;
	p.flags = flags;
	p.set = set;
	p.st = st;
	p.report = report;
	p.arg = arg;
	if ((p.dirfd = open_dir(dir)) == -1) {
		st->errors++;
		return (-1);
	}
	if (flock(p.dirfd, (flags & STORE_DRYRUN) ? LOCK_SH : LOCK_EX) == -1)
		log_warn("%s: lock", dir);
	/* None, or none to use: written again whatever happens. */
	if (store_index_read(p.dirfd, dir, &p.idx) == -1)
		p.stale = 1;
	if (scan(&p) == -1 || plan(&p) == -1)
		goto out;
	if (flags & STORE_DRYRUN) {
		dryrun(&p);
		rv = st->errors > 0 ? -1 : 0;
	} else
		rv = commit(&p);
out:
	if (rv == -1 && st->errors == 0)
		st->errors++;
	for (k = 0; k < p.nents; k++)
		free(p.ents[k]);
	for (k = 0; k < p.nadds; k++)
		free(p.adds[k]);
	free(p.ents);
	free(p.adds);
	free(p.byid);
	free(p.wants);
	free(p.ids);
	store_index_free(&p.idx);
	close(p.dirfd);
	return (rv);
}
