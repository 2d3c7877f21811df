/*
 * Unit tests for the store (lib/store.c, lib/store_index.c): a
 * directory of certificates made here with OpenSSL, synced, changed and
 * synced again.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <atf-c.h>

#include "certset.h"
#include "ctest.h"
#include "log.h"
#include "store.h"
#include "store_index.h"
#include "tcert.h"

struct fixture {
	struct tcert	 t[4];		/* A, B1, B2 (collision), C */
	struct certset	 set;
};

static void
fixture(struct fixture *f, int n)
{
	char	*buf;
	int	 i;

	mkcert(&f->t[0], "Alpha", NULL);
	mkcert(&f->t[1], "Shared", "Org");
	mkcert(&f->t[2], "Shared", "Org");
	mkcert(&f->t[3], "Charlie", NULL);
	buf = cat(f->t[0].pem, n > 1 ? f->t[1].pem : "",
	    n > 2 ? f->t[2].pem : "", n > 3 ? f->t[3].pem : "", NULL);
	certset_init(&f->set);
	ATF_REQUIRE(readmem(&f->set, buf) == 0);
	free(buf);
	(void)i;
}

static void
refill(struct fixture *f, int mask)
{
	char	*buf;
	int	 i;

	certset_free(&f->set);
	buf = cat("", NULL);
	for (i = 0; i < 4; i++)
		if (mask & (1 << i)) {
			char *nbuf = cat(buf, f->t[i].pem, NULL);

			free(buf);
			buf = nbuf;
		}
	certset_init(&f->set);
	ATF_REQUIRE(readmem(&f->set, buf) == 0);
	free(buf);
}

static void
unfixture(struct fixture *f)
{
	int	i;

	certset_free(&f->set);
	for (i = 0; i < 4; i++)
		freecert(&f->t[i]);
}

static int
sync_dir(struct store *s, struct certset *set, int flags,
    struct store_stats *st, store_report_fn fn, void *arg)
{
	int	rv;

	log_init(1, 0);
	capture();
	rv = store_sync(s, "certs", set, flags, st, fn, arg);
	uncapture();
	return (rv);
}

/*
 * "name inode size mtime ctime" of every entry of certs but . and ..,
 * in readdir order.
 */
static char *
listing(void)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		*all = NULL, line[512], path[300];
	size_t		 len = 0, n;

	ATF_REQUIRE((d = opendir("certs")) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "certs/%s", de->d_name);
		ATF_REQUIRE(lstat(path, &st) == 0);
		n = (size_t)snprintf(line, sizeof(line), "%s %llu %lld "
		    "%lld.%09ld %lld.%09ld\n", de->d_name, (unsigned long long)st.st_ino,
		    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
		    st.st_ctim.tv_nsec);
		ATF_REQUIRE((all = realloc(all, len + n + 1)) != NULL);
		memcpy(all + len, line, n + 1);
		len += n;
	}
	closedir(d);
	return (all);
}

static int
count_prefix(const char *prefix)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	ATF_REQUIRE((d = opendir("certs")) != NULL);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return (n);
}

ATF_TC_WITHOUT_HEAD(store_basic);
ATF_TC_BODY(store_basic, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	char			 path[64], *l1, *l2;
	unsigned long		 h;

	fixture(&f, 4);
	ATF_REQUIRE(mkdir("certs", 0755) == 0);
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.certs, 4);
	ATF_CHECK_EQ(st.added, 4);
	ATF_CHECK_EQ(st.collisions, 1);
	ATF_CHECK_EQ(st.errors, 0);
	h = X509_subject_name_hash(f.t[1].x);
	snprintf(path, sizeof(path), "certs/%08lx.1", h);
	ATF_CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "certs/%08lx.2", h);
	ATF_CHECK(access(path, F_OK) == -1);
	ATF_CHECK(access("certs/" STORE_INDEX, F_OK) == 0);

	l1 = listing();
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.unchanged, 4);
	ATF_CHECK_EQ(st.added + st.replaced + st.removed, 0);
	l2 = listing();
	ATF_CHECK_STREQ(l1, l2);
	free(l1);
	free(l2);

	/* B1 leaves: B2 ends up at .0 whatever its number was. */
	refill(&f, 1 | 4 | 8);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	snprintf(path, sizeof(path), "certs/%08lx.0", h);
	ATF_CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "certs/%08lx.1", h);
	ATF_CHECK(access(path, F_OK) == -1);
	store_free(s);
	unfixture(&f);
}

ATF_TC_WITHOUT_HEAD(store_noprune);
ATF_TC_BODY(store_noprune, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	char			 path[64];

	fixture(&f, 4);
	ATF_REQUIRE(mkdir("certs", 0755) == 0);
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_REQUIRE(sync_dir(s, &f.set, 0, &st, NULL, NULL) == 0);
	refill(&f, 1);
	ATF_CHECK_EQ(sync_dir(s, &f.set, STORE_NOPRUNE, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.removed, 0);
	snprintf(path, sizeof(path), "certs/%08lx.0",
	    X509_subject_name_hash(f.t[3].x));
	ATF_CHECK(access(path, F_OK) == 0);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.removed, 3);
	ATF_CHECK(access(path, F_OK) == -1);
	store_free(s);
	unfixture(&f);
}

ATF_TC_WITHOUT_HEAD(store_warns_once);
ATF_TC_BODY(store_warns_once, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	char			 path[64];

	fixture(&f, 1);
	ATF_REQUIRE(mkdir("certs", 0755) == 0);
	/* After ours: OpenSSL finds ours first, the pass is ok. */
	snprintf(path, sizeof(path), "certs/%08lx.1",
	    X509_subject_name_hash(f.t[0].x));
	ATF_REQUIRE(symlink("cacert.pem", path) == 0);
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.foreign, 1);
	expect_log("\\.1: not written by smtlsd");
	/* The daemon's next passes: counted, not said again. */
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.foreign, 1);
	ATF_CHECK(!atf_utils_grep_file("not written by smtlsd", ERRFILE));
	store_free(s);
	/* A new daemon says it again. */
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	expect_log("\\.1: not written by smtlsd");
	store_free(s);
	unfixture(&f);
}

struct seen {
	int	add, replace, remove;
};

static void
report(void *arg, enum store_action a, const char *name,
    const struct cert *c)
{
	struct seen	*s = arg;

	ATF_CHECK(name != NULL && strlen(name) >= 10);
	switch (a) {
	case STORE_ADD:
		ATF_CHECK(c != NULL);
		s->add++;
		break;
	case STORE_REPLACE:
		ATF_CHECK(c != NULL);
		s->replace++;
		break;
	case STORE_REMOVE:
		ATF_CHECK(c == NULL);
		s->remove++;
		break;
	}
}

ATF_TC_WITHOUT_HEAD(store_dryrun);
ATF_TC_BODY(store_dryrun, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	struct seen		 seen;
	char			*l1, *l2;
	int			 fd;

	fixture(&f, 3);
	ATF_REQUIRE(mkdir("certs", 0755) == 0);
	ATF_REQUIRE((s = store_new()) != NULL);
	memset(&seen, 0, sizeof(seen));
	ATF_CHECK_EQ(sync_dir(s, &f.set, STORE_DRYRUN, &st, report, &seen), 0);
	ATF_CHECK_EQ(seen.add, 3);
	ATF_CHECK_EQ(st.added, 3);
	ATF_CHECK_EQ(count_prefix(""), 2);	/* only . and .. */
	ATF_REQUIRE(sync_dir(s, &f.set, 0, &st, NULL, NULL) == 0);

	refill(&f, 1 | 4 | 8);	/* B1 leaves, C arrives */
	ATF_REQUIRE((fd = open("certs/" STORE_TMPPFX "0123", O_CREAT |
	    O_WRONLY, 0644)) != -1);
	close(fd);
	l1 = listing();
	memset(&seen, 0, sizeof(seen));
	ATF_CHECK_EQ(sync_dir(s, &f.set, STORE_DRYRUN, &st, report, &seen), 0);
	l2 = listing();
	ATF_CHECK_STREQ(l1, l2);
	ATF_CHECK_EQ(seen.add, 1);
	ATF_CHECK_EQ(seen.add + seen.replace + seen.remove, 2 + seen.replace);
	ATF_CHECK_EQ(st.added, (size_t)seen.add);
	ATF_CHECK_EQ(st.removed, (size_t)seen.remove);
	ATF_CHECK_EQ(st.replaced, (size_t)seen.replace);
	/* The real pass does that, and cleans the temporary file. */
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.added, (size_t)seen.add);
	ATF_CHECK_EQ(st.removed, (size_t)seen.remove);
	ATF_CHECK_EQ(st.replaced, (size_t)seen.replace);
	ATF_CHECK_EQ(count_prefix(STORE_TMPPFX), 0);
	expect_log("removed a temporary file left by an interrupted pass");
	free(l1);
	free(l2);
	store_free(s);
	unfixture(&f);
}

ATF_TC_WITHOUT_HEAD(store_write_fails);
ATF_TC_BODY(store_write_fails, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	struct rlimit		 rl;
	rlim_t			 saved;
	ssize_t			 n;
	char			*l1, *l2, log[8192];
	int			 pfd[2], rv;

	fixture(&f, 2);
	ATF_REQUIRE(mkdir("certs", 0755) == 0);
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_REQUIRE(sync_dir(s, &f.set, 0, &st, NULL, NULL) == 0);
	refill(&f, 4 | 8);	/* A and B1 leave; B2 and C arrive */
	l1 = listing();
	/*
	 * No file can grow past 100 bytes: every write fails.  The log
	 * goes through a pipe, which knows no such limit.
	 */
	signal(SIGXFSZ, SIG_IGN);
	ATF_REQUIRE(getrlimit(RLIMIT_FSIZE, &rl) == 0);
	saved = rl.rlim_cur;
	rl.rlim_cur = 100;
	ATF_REQUIRE(pipe(pfd) == 0);
	capture_to(pfd[1]);
	close(pfd[1]);
	ATF_REQUIRE(setrlimit(RLIMIT_FSIZE, &rl) == 0);
	rv = store_sync(s, "certs", &f.set, 0, &st, NULL, NULL);
	rl.rlim_cur = saved;
	ATF_REQUIRE(setrlimit(RLIMIT_FSIZE, &rl) == 0);
	uncapture();
	ATF_REQUIRE((n = read(pfd[0], log, sizeof(log) - 1)) >= 0);
	close(pfd[0]);
	log[n] = '\0';
	atf_utils_create_file(ERRFILE, "%s", log);
	ATF_CHECK_EQ(rv, -1);
	ATF_CHECK(st.errors > 0);
	ATF_CHECK_EQ(st.added + st.removed + st.replaced, 0);
	l2 = listing();
	ATF_CHECK_STREQ(l1, l2);
	ATF_CHECK_EQ(count_prefix(STORE_TMPPFX), 0);
	expect_log("certs/\\.smtlsd\\.tmp\\.[0-9a-f]+: writing: "
	    "File too large");
	expect_log("certs: nothing was changed");
	free(l1);
	free(l2);
	store_free(s);
	unfixture(&f);
}

ATF_TC_WITHOUT_HEAD(store_bad_dir);
ATF_TC_BODY(store_bad_dir, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	int			 fd;

	fixture(&f, 1);
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), -1);
	expect_log("cert_dir certs: does not exist");
	ATF_REQUIRE((fd = open("certs", O_CREAT | O_WRONLY, 0644)) != -1);
	close(fd);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), -1);
	expect_log("cert_dir certs: not a directory");
	ATF_REQUIRE(unlink("certs") == 0);
	ATF_REQUIRE(mkdir("real", 0755) == 0);
	ATF_REQUIRE(symlink("real", "certs") == 0);
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), -1);
	expect_log("cert_dir certs: is a symbolic link");
	ATF_CHECK(rmdir("real") == 0);	/* still empty */
	store_free(s);
	unfixture(&f);
}

ATF_TC_WITHOUT_HEAD(index_names);
ATF_TC_BODY(index_names, tc)
{
	const char	*good[] = { "00000000.0", "abcdef01.1", "ffffffff.99" };
	const char	*bad[] = { "", "0000000.0", "ABCDEF01.0", "abcdef01.",
			    "abcdef01.01", "abcdef01.-1", "abcdef01.1 ",
			    "abcdef01.100001", "abcdef01x0", "abcdefg1.0" };
	unsigned long	 h, n;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ATF_CHECK_MSG(store_index_name(good[i], &h, &n) == 0, "%s",
		    good[i]);
	ATF_REQUIRE(store_index_name("abcdef01.12", &h, &n) == 0);
	ATF_CHECK_EQ(h, 0xabcdef01UL);
	ATF_CHECK_EQ(n, 12);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ATF_CHECK_MSG(store_index_name(bad[i], &h, &n) == -1, "%s",
		    bad[i]);
}

/* The index of certs, read as the store reads it. */
static int
read_index(struct store_index *x)
{
	int	fd, rv;

	ATF_REQUIRE((fd = open("certs", O_RDONLY | O_DIRECTORY)) != -1);
	rv = store_index_read(fd, "certs", x);
	close(fd);
	return (rv);
}

/* Rewrites line n (from 1) of the index with the text s. */
static void
index_line(int n, const char *s)
{
	FILE	*in, *out;
	char	 line[512];
	int	 i = 0;

	ATF_REQUIRE((in = fopen("certs/" STORE_INDEX, "r")) != NULL);
	ATF_REQUIRE((out = fopen("index.new", "w")) != NULL);
	while (fgets(line, sizeof(line), in) != NULL)
		fputs(++i == n ? s : line, out);
	fclose(in);
	ATF_REQUIRE(fclose(out) == 0);
	ATF_REQUIRE(rename("index.new", "certs/" STORE_INDEX) == 0);
}

ATF_TC_WITHOUT_HEAD(index_format);
ATF_TC_BODY(index_format, tc)
{
	struct fixture		 f;
	struct store		*s;
	struct store_stats	 st;
	struct store_index	 x;
	const struct index_rec	*r;
	struct stat		 sb;
	char			 path[64];
	unsigned long		 h;

	fixture(&f, 4);
	ATF_REQUIRE(mkdir("certs", 0755) == 0);
	ATF_REQUIRE((s = store_new()) != NULL);
	ATF_REQUIRE(sync_dir(s, &f.set, 0, &st, NULL, NULL) == 0);
	ATF_REQUIRE(read_index(&x) == 0);
	ATF_CHECK_EQ(x.nrecs, 4);
	/* B1 before B2 in the bundle: B1 is .0, B2 .1. */
	h = X509_subject_name_hash(f.t[1].x);
	ATF_REQUIRE((r = store_index_find(&x, h, 1)) != NULL);
	ATF_CHECK(memcmp(r->id, f.t[2].fp, CERT_FPLEN) == 0);
	snprintf(path, sizeof(path), "certs/%08lx.1", h);
	ATF_REQUIRE(stat(path, &sb) == 0);
	ATF_CHECK_EQ(r->st.ino, sb.st_ino);
	ATF_CHECK_EQ(r->st.size, sb.st_size);
	ATF_CHECK_EQ(r->st.ctim.tv_sec, sb.st_ctim.tv_sec);
	ATF_CHECK_EQ(r->st.ctim.tv_nsec, sb.st_ctim.tv_nsec);
	ATF_CHECK(store_index_find(&x, h, 2) == NULL);
	store_index_free(&x);

	/* A line that does not parse: no index at all. */
	index_line(3, "garbage\n");
	ATF_CHECK_EQ(read_index(&x), -1);
	ATF_CHECK_EQ(x.nrecs, 0);
	/* The files are read instead: nothing written but the index. */
	ATF_CHECK_EQ(sync_dir(s, &f.set, 0, &st, NULL, NULL), 0);
	ATF_CHECK_EQ(st.unchanged, 4);
	ATF_CHECK_EQ(st.added + st.replaced + st.removed, 0);
	ATF_REQUIRE(read_index(&x) == 0);
	ATF_CHECK_EQ(x.nrecs, 4);
	store_index_free(&x);

	/* An older version: no index either. */
	index_line(1, "smtlsd-index 4\n");
	ATF_CHECK_EQ(read_index(&x), -1);
	store_free(s);
	unfixture(&f);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, index_names);
	ATF_TP_ADD_TC(tp, index_format);
	ATF_TP_ADD_TC(tp, store_basic);
	ATF_TP_ADD_TC(tp, store_noprune);
	ATF_TP_ADD_TC(tp, store_warns_once);
	ATF_TP_ADD_TC(tp, store_dryrun);
	ATF_TP_ADD_TC(tp, store_write_fails);
	ATF_TP_ADD_TC(tp, store_bad_dir);
	return (atf_no_error());
}
