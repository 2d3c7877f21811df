/*
 * capath_check: is a directory a valid OpenSSL CApath?  For the crash
 * and fault tests.
 *
 * usage: capath_check [-t] dir
 *
 * Every <8 hex>.<n> entry must be a regular file (not a link) holding
 * exactly one complete certificate whose subject-name hash is the one in
 * its name, and the numbers under each hash must run from .0 without a
 * gap (OpenSSL's lookup stops at the first missing number).  Temporary
 * files of smtlsd (.smtlsd.tmp.*) are counted; with -t any is an error.
 * Prints one line per problem and a summary; exits 0 when valid, 1 when
 * not, 2 on usage or system errors.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct slot {
	unsigned long	hash;
	unsigned long	n;
};

static int
parse_name(const char *s, unsigned long *hash, unsigned long *n)
{
	char	*end;
	int	 i;

	for (i = 0; i < 8; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return (-1);
	if (s[8] != '.' || s[9] < '0' || s[9] > '9')
		return (-1);
	*hash = strtoul(s, NULL, 16);
	*n = strtoul(s + 9, &end, 10);
	return (*end == '\0' ? 0 : -1);
}

static int
slot_cmp(const void *a, const void *b)
{
	const struct slot	*x = a, *y = b;

	if (x->hash != y->hash)
		return (x->hash < y->hash ? -1 : 1);
	if (x->n != y->n)
		return (x->n < y->n ? -1 : 1);
	return (0);
}

/* 0 when name holds exactly one certificate of that hash, else -1. */
static int
check_file(int dfd, const char *name, unsigned long hash)
{
	struct stat	 st;
	X509		*x, *more;
	BIO		*bio;
	FILE		*fp;
	int		 fd, rv = -1;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		printf("%s: %s\n", name, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		printf("%s: not a regular file\n", name);
		return (-1);
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW)) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		printf("%s: %s\n", name, strerror(errno));
		return (-1);
	}
	bio = BIO_new_fp(fp, BIO_CLOSE);
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL) {
		printf("%s: no complete certificate (%lu bytes)\n", name,
		    (unsigned long)st.st_size);
		goto out;
	}
	ERR_clear_error();
	if ((more = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(more);
		printf("%s: more than one certificate\n", name);
		goto out;
	}
	if (X509_subject_name_hash(x) != hash) {
		printf("%s: certificate's subject hash is %08lx\n", name,
		    X509_subject_name_hash(x));
		goto out;
	}
	rv = 0;
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	return (rv);
}

int
main(int argc, char *argv[])
{
	struct dirent	*de;
	struct slot	*slots = NULL, *s;
	DIR		*d;
	size_t		 nslots = 0, cap = 0, i, hashes = 0, tmps = 0;
	unsigned long	 hash, n, want = 0;
	int		 ch, dfd, strict = 0, bad = 0;

	while ((ch = getopt(argc, argv, "t")) != -1) {
		switch (ch) {
		case 't':
			strict = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	if ((d = opendir(argv[optind])) == NULL)
		err(2, "%s", argv[optind]);
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".smtlsd.tmp.", 12) == 0) {
			tmps++;
			if (strict) {
				printf("%s: temporary file left\n",
				    de->d_name);
				bad++;
			}
			continue;
		}
		if (parse_name(de->d_name, &hash, &n) == -1)
			continue;
		if (check_file(dfd, de->d_name, hash) == -1)
			bad++;
		if (nslots == cap) {
			cap = cap ? cap * 2 : 256;
			if ((slots = reallocarray(slots, cap,
			    sizeof(*slots))) == NULL)
				err(2, NULL);
		}
		slots[nslots].hash = hash;
		slots[nslots++].n = n;
	}
	closedir(d);
	if (nslots > 0)
		qsort(slots, nslots, sizeof(*slots), slot_cmp);
	for (i = 0; i < nslots; i++) {
		s = &slots[i];
		if (i == 0 || s->hash != slots[i - 1].hash) {
			hashes++;
			want = 0;
		}
		if (s->n != want) {
			printf("%08lx.%lu: gap: %08lx.%lu is missing\n",
			    s->hash, s->n, s->hash, want);
			bad++;
			want = s->n;
		}
		want++;
	}
	printf("%s: %zu files, %zu hashes, %zu temporary files, %d "
	    "problems\n", argv[optind], nslots, hashes, tmps, bad);
	free(slots);
	return (bad ? 1 : 0);
usage:
	fprintf(stderr, "usage: capath_check [-t] dir\n");
	return (2);
}
