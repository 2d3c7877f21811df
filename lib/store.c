/*
 * The CA store.  Makes a directory hold exactly the wanted certificates
 * as <subject_hash>.N files, the names openssl rehash gives, without
 * touching any file that is not ours.
 *
 * Ours: a regular file whose first line is our header, naming the
 * SHA-256 fingerprint of the certificate it holds.  The index file
 * caches (name, inode, size, ctime, fingerprint) of each file we wrote,
 * so that a pass over an unchanged bundle opens none of them and
 * decodes no certificate.  The index is only a cache: a file whose
 * inode, size or ctime differ from it is read again.  The ctime, which
 * no one can set back (unlike the mtime, see touch -r), changes with
 * any write, chmod or link to the file.
 *
 * Numbering per hash is gapless from .0, because OpenSSL's lookup stops
 * at the first missing number.  Files that are not ours keep their
 * numbers; ours fill the free ones, a certificate keeps its number from
 * pass to pass, and new ones take free numbers in fingerprint order.
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

#include "bundle.h"
#include "log.h"
#include "osdep.h"
#include "store.h"

#define HDR_PREFIX	"# smtlsd sha256:"
#define HDR_SUFFIX	" (written by smtlsd(8), do not edit)\n"
#define HDR_LEN		(sizeof(HDR_PREFIX) - 1 + 2 * CERT_FPLEN + \
			    sizeof(HDR_SUFFIX) - 1)
#define INDEX_MAGIC	"smtlsd-index 2\n"	/* 1 held mtimes */
#define OWNED_MAX	(1024 * 1024)

enum plan {
	P_NONE,
	P_KEEP,
	P_ADD,
	P_REPLACE,
	P_REMOVE
};

struct entry {
	RB_ENTRY(entry)	 byslot;
	RB_ENTRY(entry)	 byfp;
	unsigned long	 hash;
	unsigned long	 n;
	int		 exists;	/* in the directory now */
	int		 owned;		/* ours */
	int		 known;		/* ours, and holds fp */
	int		 vouched;	/* the index says we wrote it here */
	int		 fixed;		/* keeps its number and content */
	unsigned char	 fp[CERT_FPLEN];
	struct stat	 st;
	enum plan	 plan;
	struct cert	*put;		/* what P_ADD/P_REPLACE write */
	char		 tmp[40];	/* its temporary name */
	struct stat	 newst;
	int		 committed;
};
RB_HEAD(slottree, entry);
RB_HEAD(fptree, entry);

struct indexrec {
	RB_ENTRY(indexrec) entry;
	unsigned long	 hash;
	unsigned long	 n;
	unsigned long long ino;
	long long	 size, sec, nsec;
	unsigned char	 fp[CERT_FPLEN];
};
RB_HEAD(indextree, indexrec);

struct warned {
	RB_ENTRY(warned) entry;
	char		 name[32];
};
RB_HEAD(warntree, warned);

struct store {
	struct warntree	 warned;	/* foreign names reported already */
};

struct bucket {
	unsigned long	  hash;
	struct entry	**ents;
	size_t		  nents;
	struct cert	**certs;
	size_t		  ncerts;
};

struct pass {
	const char		*dir;
	int			 dirfd;
	int			 flags;
	struct certset		*want;
	struct store_stats	*st;
	struct slottree		 slots;
	struct fptree		 byfp;
	struct indextree	 index;
	store_report_fn		 report;
	void			*arg;
	size_t			 nindex;	/* records in the index */
	size_t			 hits;		/* files the index vouched for */
	int			 stale;		/* the index must be rewritten */
	int			 said;		/* the failure is reported */
};

static int
slot_cmp(struct entry *a, struct entry *b)
{
	if (a->hash != b->hash)
		return (a->hash < b->hash ? -1 : 1);
	if (a->n != b->n)
		return (a->n < b->n ? -1 : 1);
	return (0);
}

static int
fp_cmp(struct entry *a, struct entry *b)
{
	return (memcmp(a->fp, b->fp, CERT_FPLEN));
}

static int
index_cmp(struct indexrec *a, struct indexrec *b)
{
	if (a->hash != b->hash)
		return (a->hash < b->hash ? -1 : 1);
	if (a->n != b->n)
		return (a->n < b->n ? -1 : 1);
	return (0);
}

static int
warned_cmp(struct warned *a, struct warned *b)
{
	return (strcmp(a->name, b->name));
}

RB_GENERATE_STATIC(slottree, entry, byslot, slot_cmp)
RB_GENERATE_STATIC(fptree, entry, byfp, fp_cmp)
RB_GENERATE_STATIC(indextree, indexrec, entry, index_cmp)
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

/*
 * Parses "<8 hex>.<decimal>", the names OpenSSL looks up.  Returns 0,
 * or -1 for any other name.
 */
static int
parse_name(const char *name, unsigned long *hash, unsigned long *n)
{
	const char	*p;
	unsigned long	 h = 0, v = 0;
	int		 i, d;

	for (i = 0; i < 8; i++) {
		if (name[i] >= '0' && name[i] <= '9')
			d = name[i] - '0';
		else if (name[i] >= 'a' && name[i] <= 'f')
			d = name[i] - 'a' + 10;
		else
			return (-1);
		h = h << 4 | (unsigned long)d;
	}
	if (name[8] != '.' || name[9] == '\0' ||
	    (name[9] == '0' && name[10] != '\0'))
		return (-1);
	for (p = name + 9; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > 100000)
			return (-1);
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*hash = h;
	*n = v;
	return (0);
}

static void
slot_name(unsigned long hash, unsigned long n, char *buf, size_t len)
{
	snprintf(buf, len, "%08lx.%lu", hash, n);
}

static void
index_load(struct pass *p)
{
	struct indexrec	*r;
	FILE		*fp;
	char		 line[256], name[32], hex[2 * CERT_FPLEN + 1];
	int		 fd;

	if ((fd = openat(p->dirfd, STORE_INDEX, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ELOOP || errno == EMLINK) {
			log_warnx("%s/%s: is a symbolic link: not followed; the "
			    "index is rebuilt in its place", p->dir,
			    STORE_INDEX);
			p->stale = 1;
		} else if (errno != ENOENT)
			log_warn("%s/%s", p->dir, STORE_INDEX);
		return;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strcmp(line, INDEX_MAGIC) != 0) {
		fclose(fp);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			break;
		if (sscanf(line, "%31s %llu %lld %lld %lld %64s", name,
		    &r->ino, &r->size, &r->sec, &r->nsec, hex) != 6 ||
		    parse_name(name, &r->hash, &r->n) == -1 ||
		    strlen(hex) != 2 * CERT_FPLEN ||
		    cert_fpparse(hex, r->fp) == -1 ||
		    RB_INSERT(indextree, &p->index, r) != NULL)
			free(r);
		else
			p->nindex++;
	}
	fclose(fp);
}

static void
index_free(struct pass *p)
{
	struct indexrec	*r, *next;

	RB_FOREACH_SAFE(r, indextree, &p->index, next) {
		RB_REMOVE(indextree, &p->index, r);
		free(r);
	}
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
	int		 fd;

	if ((fd = openat(p->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) == -1 || st.st_ino != e->st.st_ino ||
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
	else if (owned_content(c, &want, &wantlen) == 0) {
		e->known = wantlen == len && memcmp(want, buf, len) == 0;
		free(want);
	}
out:
	free(buf);
	close(fd);
}

static void
classify(struct pass *p, struct entry *e, const char *name)
{
	struct indexrec	 key, *r;

	if (!S_ISREG(e->st.st_mode))
		return;		/* a link or anything else: not ours */
	key.hash = e->hash;
	key.n = e->n;
	r = RB_FIND(indextree, &p->index, &key);
	if (r != NULL && r->ino == (unsigned long long)e->st.st_ino &&
	    r->size == (long long)e->st.st_size &&
	    r->sec == (long long)e->st.st_ctim.tv_sec &&
	    r->nsec == (long long)e->st.st_ctim.tv_nsec) {
		memcpy(e->fp, r->fp, CERT_FPLEN);
		e->owned = e->known = e->vouched = 1;
		p->hits++;
	} else {
		classify_by_content(p, e, name);
		if (e->owned)
			p->stale = 1;
	}
	/* Ours but no longer 0644 (chmod): written again. */
	if (e->owned && (e->st.st_mode & 07777) != 0644)
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
 * Reads the directory: removes temporary files a crash left behind and
 * records every hash-named file, ours or not.
 */
static int
scan(struct store *s, struct pass *p)
{
	struct dirent	*de;
	struct entry	*e;
	DIR		*d;
	unsigned long	 hash, n;
	int		 fd;

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
			    unlinkat(p->dirfd, de->d_name, 0) == 0)
				log_info("%s/%s: removed a temporary file "
				    "left by an interrupted pass", p->dir,
				    de->d_name);
			continue;
		}
		if (parse_name(de->d_name, &hash, &n) == -1)
			continue;
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			log_warn("%s", p->dir);
			closedir(d);
			return (-1);
		}
		e->hash = hash;
		e->n = n;
		e->exists = 1;
		if (fstatat(p->dirfd, de->d_name, &e->st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			free(e);
			continue;	/* gone meanwhile */
		}
		classify(p, e, de->d_name);
		RB_INSERT(slottree, &p->slots, e);
		if (e->owned && e->known)
			RB_INSERT(fptree, &p->byfp, e);
		if (!e->owned)
			warn_foreign(s, p, de->d_name);
	}
	if (errno != 0) {
		log_warn("%s: readdir", p->dir);
		closedir(d);
		return (-1);
	}
	closedir(d);
	return (0);
}

static int
cert_order(const void *a, const void *b)
{
	const struct cert	*x = *(struct cert *const *)a;
	const struct cert	*y = *(struct cert *const *)b;

	if (x->hash != y->hash)
		return (x->hash < y->hash ? -1 : 1);
	return (memcmp(x->fp, y->fp, CERT_FPLEN));
}

static int
entry_taken(struct bucket *b, unsigned long n, struct entry **ep)
{
	size_t	i;

	for (i = 0; i < b->nents; i++)
		if (b->ents[i]->n == n) {
			*ep = b->ents[i];
			return (b->ents[i]->fixed);
		}
	*ep = NULL;
	return (0);
}

/*
 * Plans one hash: which file stays, which is written, which goes.
 */
static int
plan_bucket(struct pass *p, struct bucket *b)
{
	struct entry	*e;
	struct cert	*c;
	unsigned long	 n, *slots = NULL;
	size_t		 i, j, nslots = 0;
	int		 noprune = p->flags & STORE_NOPRUNE;

	for (i = 0; i < b->nents; i++) {
		e = b->ents[i];
		e->fixed = !e->owned || (noprune && (!e->known ||
		    certset_find(p->want, e->fp) == NULL));
	}
	if (b->ncerts > 1)
		p->st->collisions++;
	if (b->ncerts > 0 &&
	    (slots = calloc(b->ncerts, sizeof(*slots))) == NULL)
		return (-1);
	/* The first ncerts numbers not taken by fixed files. */
	for (n = 0; nslots < b->ncerts; n++)
		if (!entry_taken(b, n, &e))
			slots[nslots++] = n;

	/* Keep our files that hold a wanted certificate at a slot. */
	for (i = 0; i < b->nents; i++) {
		e = b->ents[i];
		if (e->fixed || !e->known)
			continue;
		for (j = 0; j < nslots && slots[j] != e->n; j++)
			;
		if (j == nslots)
			continue;
		for (j = 0; j < b->ncerts; j++)
			if (b->certs[j] != NULL &&
			    memcmp(b->certs[j]->fp, e->fp, CERT_FPLEN) == 0)
				break;
		if (j == b->ncerts)
			continue;
		e->plan = P_KEEP;
		b->certs[j] = NULL;
		p->st->unchanged++;
	}

	/* The rest, in fingerprint order, into the free slots. */
	for (i = 0, j = 0; i < b->ncerts; i++) {
		if ((c = b->certs[i]) == NULL)
			continue;
		for (;; j++) {
			entry_taken(b, slots[j], &e);
			if (e == NULL || e->plan != P_KEEP)
				break;
		}
		if (e == NULL) {
			if ((e = calloc(1, sizeof(*e))) == NULL) {
				free(slots);
				return (-1);
			}
			e->hash = b->hash;
			e->n = slots[j];
			e->plan = P_ADD;
			RB_INSERT(slottree, &p->slots, e);
		} else
			e->plan = P_REPLACE;
		e->put = c;
		j++;
	}

	/* Ours, not fixed, outside the slots: stale. */
	for (i = 0; i < b->nents; i++) {
		e = b->ents[i];
		if (e->fixed || e->plan != P_NONE)
			continue;
		e->plan = P_REMOVE;
	}
	free(slots);
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
 * Resolves the hash of each wanted certificate (from our files when we
 * hold it already, decoding it otherwise) and plans every hash.
 */
static int
plan(struct pass *p)
{
	struct cert	**certs = NULL, *c;
	struct entry	 *e, key, **ents = NULL;
	struct bucket	  b;
	size_t		  ncerts = 0, nents = 0, i, j, k;
	int		  rv = -1;

	/*
	 * A file's name gives its certificate's hash only when the index
	 * says we wrote it under that name: a file of ours that was renamed
	 * or copied says nothing about the hash.
	 */
	RB_FOREACH(c, certtree, &p->want->tree) {
		memcpy(key.fp, c->fp, CERT_FPLEN);
		if ((e = RB_FIND(fptree, &p->byfp, &key)) != NULL &&
		    e->vouched) {
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
	if (ncerts > 0)
		qsort(certs, ncerts, sizeof(*certs), cert_order);
	p->st->certs = ncerts;
	RB_FOREACH(e, slottree, &p->slots)
		if (bucket_push(&ents, &nents, e) == -1)
			goto out;

	/* Walk both lists, sorted by hash, one hash at a time. */
	for (i = 0, j = 0; i < ncerts || j < nents; ) {
		memset(&b, 0, sizeof(b));
		if (j == nents || (i < ncerts && certs[i]->hash < ents[j]->hash))
			b.hash = certs[i]->hash;
		else
			b.hash = ents[j]->hash;
		for (k = i; k < ncerts && certs[k]->hash == b.hash; k++)
			;
		b.certs = certs + i;
		b.ncerts = k - i;
		i = k;
		for (k = j; k < nents && ents[k]->hash == b.hash; k++)
			;
		b.ents = ents + j;
		b.nents = k - j;
		j = k;
		if (plan_bucket(p, &b) == -1)
			goto out;
	}
	rv = 0;
out:
	if (rv == -1)
		log_warn("%s: planning", p->dir);
	free(certs);
	free(ents);
	return (rv);
}

static int
write_tmp(struct pass *p, struct entry *e)
{
	char	*buf = NULL;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd = -1, tries;

	if (owned_content(e->put, &buf, &len) == -1) {
		log_warn("%s", p->dir);
		return (-1);
	}
	for (tries = 0; tries < 16; tries++) {
		snprintf(e->tmp, sizeof(e->tmp), "%s%08x%08x", STORE_TMPPFX,
		    arc4random(), arc4random());
		fd = openat(p->dirfd, e->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1) {
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
	if (fchmod(fd, 0644) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (osdep_file_written(fd) == -1 || fstat(fd, &e->newst) == -1)
		goto fail;
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

/*
 * True when the file at name is still the one we classified.
 */
static int
still_ours(struct pass *p, struct entry *e, const char *name)
{
	struct stat	st;

	return (fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_ino == e->st.st_ino &&
	    st.st_dev == e->st.st_dev &&
	    st.st_ctim.tv_sec == e->st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == e->st.st_ctim.tv_nsec);
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
	    st.st_ino == e->newst.st_ino && st.st_dev == e->newst.st_dev)
		e->newst = st;
}

static int
commit(struct pass *p, struct entry *e)
{
	char	name[32];

	slot_name(e->hash, e->n, name, sizeof(name));
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

static int
index_write(struct pass *p)
{
	struct entry	*e;
	struct stat	*st;
	FILE		*fp;
	char		 tmp[40], name[32], hex[2 * CERT_FPLEN + 1];
	int		 fd;

	snprintf(tmp, sizeof(tmp), "%s%08x%08x", STORE_TMPPFX, arc4random(),
	    arc4random());
	if ((fd = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644)) == -1) {
		log_warn("%s/%s: cannot create", p->dir, tmp);
		return (-1);
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlinkat(p->dirfd, tmp, 0);
		return (-1);
	}
	fputs(INDEX_MAGIC, fp);
	RB_FOREACH(e, slottree, &p->slots) {
		if (e->plan == P_KEEP || (e->fixed && e->owned && e->known))
			st = &e->st;
		else if ((e->plan == P_ADD || e->plan == P_REPLACE) &&
		    e->committed)
			st = &e->newst;
		else
			continue;
		slot_name(e->hash, e->n, name, sizeof(name));
		cert_fphex(e->put != NULL && e->committed ? e->put->fp :
		    e->fp, hex);
		fprintf(fp, "%s %llu %lld %lld %lld %s\n", name,
		    (unsigned long long)st->st_ino, (long long)st->st_size,
		    (long long)st->st_ctim.tv_sec,
		    (long long)st->st_ctim.tv_nsec, hex);
	}
	if (fflush(fp) == EOF || ferror(fp)) {
		log_warn("%s/%s: writing", p->dir, STORE_INDEX);
		fclose(fp);
		unlinkat(p->dirfd, tmp, 0);
		return (-1);
	}
	fclose(fp);
	if (renameat(p->dirfd, tmp, p->dirfd, STORE_INDEX) == -1) {
		log_warn("%s/%s: rename", p->dir, STORE_INDEX);
		unlinkat(p->dirfd, tmp, 0);
		return (-1);
	}
	return (0);
}

static int
execute(struct pass *p)
{
	struct entry	*e;
	char		 name[32];
	int		 writes = 0, removes = 0, failed = 0;

	RB_FOREACH(e, slottree, &p->slots) {
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
		RB_FOREACH(e, slottree, &p->slots)
			if (e->tmp[0] != '\0')
				unlinkat(p->dirfd, e->tmp, 0);
		if (!p->said)
			log_warnx("%s: nothing was changed", p->dir);
		p->st->errors++;
		return (-1);
	}
	RB_FOREACH(e, slottree, &p->slots) {
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
	RB_FOREACH_REVERSE(e, slottree, &p->slots) {
		if (e->plan != P_REMOVE || failed)
			continue;
		slot_name(e->hash, e->n, name, sizeof(name));
		if (!still_ours(p, e, name)) {
			log_warnx("%s/%s: changed meanwhile; left alone",
			    p->dir, name);
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
	if (p->hits != p->nindex)
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

	RB_FOREACH(e, slottree, &p->slots) {
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
	struct entry	*e, *next;
	int		 rv = -1;

	memset(st, 0, sizeof(*st));
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.flags = flags;
	p.want = want;
	p.st = st;
	p.report = report;
	p.arg = arg;
	RB_INIT(&p.slots);
	RB_INIT(&p.byfp);
	RB_INIT(&p.index);

	if ((p.dirfd = open_dir(dir)) == -1) {
		st->errors++;
		return (-1);
	}
	if (flock(p.dirfd, (flags & STORE_DRYRUN) ? LOCK_SH : LOCK_EX) == -1)
		log_warn("%s: lock", dir);
	index_load(&p);
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
	RB_FOREACH_SAFE(e, slottree, &p.slots, next) {
		RB_REMOVE(slottree, &p.slots, e);
		free(e);
	}
	index_free(&p);
	close(p.dirfd);
	return (rv);
}
