/*
 * The store's index: a first line "smtlsd-index 5", then one line
 *
 *	<hash>.<n> <inode> <size> <ctime s> <ctime ns> <id>
 *
 * for each file, in name order.  Version 4 also held bundle block
 * digests, 3 had no trust settings, 2 no block lines, 1 held mtimes:
 * any of them, or a line that does not parse, makes the whole file read
 * as no index.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "store_index.h"

#define INDEX_MAGIC	"smtlsd-index 5\n"
#define INDEX_MAX	(64 * 1024 * 1024)

/*
 * Parses "<8 lower-case hex digits>.<decimal>", the names OpenSSL looks
 * up, with no leading zero in the number.  Returns 0, or -1 for any
 * other name.
 */
int
store_index_name(const char *name, unsigned long *hash, unsigned long *n)
{
	char	*end;
	size_t	 i;

	for (i = 0; i < 8; i++)
		if ((name[i] < '0' || name[i] > '9') &&
		    (name[i] < 'a' || name[i] > 'f'))
			return (-1);
	if (name[8] != '.' || name[9] < '0' || name[9] > '9' ||
	    (name[9] == '0' && name[10] != '\0'))
		return (-1);
	errno = 0;
	*n = strtoul(name + 9, &end, 10);
	if (*end != '\0' || errno != 0 || *n > 100000)
		return (-1);
	*hash = strtoul(name, NULL, 16);
	return (0);
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct index_rec	*x = a, *y = b;

	if (x->hash != y->hash)
		return (x->hash < y->hash ? -1 : 1);
	if (x->n != y->n)
		return (x->n < y->n ? -1 : 1);
	return (0);
}

/* One number and the space after it, from *p.  Returns 0 or -1. */
static int
scan_num(char **p, long long min, long long *v)
{
	char	*end;

	if (**p < '0' || **p > '9') {
		if (**p != '-' || min == 0)
			return (-1);
	}
	errno = 0;
	*v = strtoll(*p, &end, 10);
	if (errno != 0 || *end != ' ' || *v < min)
		return (-1);
	*p = end + 1;
	return (0);
}

/* One file line (its newline removed) into r.  Returns 0 or -1. */
static int
parse_line(char *line, struct index_rec *r)
{
	char		*p;
	long long	 ino, size, sec, nsec;

	if ((p = strchr(line, ' ')) == NULL)
		return (-1);
	*p++ = '\0';
	if (store_index_name(line, &r->hash, &r->n) == -1 ||
	    scan_num(&p, 0, &ino) == -1 || scan_num(&p, 0, &size) == -1 ||
	    scan_num(&p, LLONG_MIN, &sec) == -1 ||
	    scan_num(&p, 0, &nsec) == -1 || nsec > 999999999 ||
	    strlen(p) != 2 * CERT_FPLEN || cert_fpparse(p, r->id) == -1)
		return (-1);
	memset(&r->st, 0, sizeof(r->st));
	r->st.ino = (ino_t)ino;
	r->st.size = (off_t)size;
	r->st.ctim.tv_sec = (time_t)sec;
	r->st.ctim.tv_nsec = (long)nsec;
	return (0);
}

/*
 * Reads the index of the directory dir (open as dirfd) into x.  Returns
 * 0, or -1 when there is none to use (missing, damaged, of another
 * version, or a symbolic link, which is said); x is empty then.
 */
int
store_index_read(int dirfd, const char *dir, struct store_index *x)
{
	struct index_rec	*recs;
	struct stat		 st;
	FILE			*f;
	char			 line[256];
	size_t			 cap = 0, len;
	int			 fd, ok = 0, sorted = 1;

	memset(x, 0, sizeof(*x));
	if ((fd = openat(dirfd, STORE_INDEX, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ELOOP || errno == EMLINK)
			log_warnx("%s/%s: is a symbolic link: not followed; "
			    "the index is rebuilt in its place", dir,
			    STORE_INDEX);
		else if (errno != ENOENT)
			log_warn("%s/%s", dir, STORE_INDEX);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > INDEX_MAX || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return (-1);
	}
	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, INDEX_MAGIC) != 0)
		goto out;
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((len = strlen(line)) == 0 || line[len - 1] != '\n')
			goto out;
		line[len - 1] = '\0';
		if (x->nrecs == cap) {
			cap = cap == 0 ? 256 : 2 * cap;
			if ((recs = reallocarray(x->recs, cap,
			    sizeof(*recs))) == NULL)
				goto out;
			x->recs = recs;
		}
		if (parse_line(line, &x->recs[x->nrecs]) == -1)
			goto out;
		if (x->nrecs > 0 &&
		    rec_cmp(&x->recs[x->nrecs - 1], &x->recs[x->nrecs]) >= 0)
			sorted = 0;
		x->nrecs++;
	}
	if (!ferror(f))
		ok = 1;
	/* Written in order, one line a name: anything else is no index. */
	if (!sorted)
		ok = 0;
out:
	fclose(f);
	if (!ok)
		store_index_free(x);
	return (ok ? 0 : -1);
}

/* The record of the file <hash>.<n>, or NULL. */
const struct index_rec *
store_index_find(const struct store_index *x, unsigned long hash,
    unsigned long n)
{
	struct index_rec	key;

	if (x->nrecs == 0)
		return (NULL);
	key.hash = hash;
	key.n = n;
	return (bsearch(&key, x->recs, x->nrecs, sizeof(*x->recs), rec_cmp));
}

/*
 * Writes the index of dir (open as dirfd): the n records of recs, in
 * name order.  Through a temporary file renamed into place; no fsync,
 * since a lost index is only rebuilt.  Returns 0, or -1 after logging.
 */
int
store_index_write(int dirfd, const char *dir, const struct index_rec *recs,
    size_t n)
{
	FILE	*f;
	char	 tmp[40], hex[2 * CERT_FPLEN + 1];
	size_t	 i;
	int	 fd;

	if ((fd = file_tmp_open(dirfd, tmp, sizeof(tmp), 0644)) == -1) {
		log_warn("%s/%s: cannot create", dir, tmp);
		return (-1);
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		log_warn("%s/%s", dir, tmp);
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	fputs(INDEX_MAGIC, f);
	for (i = 0; i < n; i++) {
		cert_fphex(recs[i].id, hex);
		fprintf(f, "%08lx.%lu %llu %lld %lld %ld %s\n", recs[i].hash,
		    recs[i].n, (unsigned long long)recs[i].st.ino,
		    (long long)recs[i].st.size,
		    (long long)recs[i].st.ctim.tv_sec, recs[i].st.ctim.tv_nsec,
		    hex);
	}
	if (fflush(f) == EOF || ferror(f)) {
		log_warn("%s/%s: writing", dir, STORE_INDEX);
		fclose(f);
		unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	if (fclose(f) == EOF) {
		log_warn("%s/%s: writing", dir, STORE_INDEX);
		unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	if (renameat(dirfd, tmp, dirfd, STORE_INDEX) == -1) {
		log_warn("%s/%s: rename", dir, STORE_INDEX);
		unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	return (0);
}

void
store_index_free(struct store_index *x)
{
	free(x->recs);
	memset(x, 0, sizeof(*x));
}
