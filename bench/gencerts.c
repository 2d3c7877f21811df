/*
 * gencerts: write a PEM bundle of many self-signed CA certificates, fast,
 * for the benchmarks.
 *
 * usage: gencerts [-1] [-j jobs] [-n count] [-s seed] [-o file]
 *
 * A few keys are generated once (RSA 2048, RSA 4096, EC P-384, EC P-256,
 * mixed roughly like the Mozilla root list) and shared by many subjects;
 * every certificate is signed with its own subject key, so it is a valid
 * self-signed root.  Everything but the keys and signatures follows from
 * the seed: subjects, serials, dates.  The bundle holds exactly `count'
 * PEM blocks, among them on purpose:
 *  - every COLL_EVERY-th certificate repeats the subject of the one before
 *    it with another serial and key (same subject hash: <hash>.1);
 *  - every DUP_EVERY-th block is a byte-for-byte copy of an earlier one
 *    (to be dropped as a duplicate).
 * With -1 every certificate has the same subject (one subject hash,
 * <hash>.0 to <hash>.count-1), for the cost of names that collide.
 * The work is shared by `jobs' processes (default: one per CPU), each
 * writing whole runs of DUP_EVERY blocks to a temporary file that the
 * parent copies out in order, so the output does not depend on `jobs'.
 * A summary goes to stderr.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define COLL_EVERY	50
#define DUP_EVERY	1000
#define DUP_SAVE	500		/* offset of the block copied later */
#define NOT_BEFORE	1577836800	/* 2020-01-01 */
#define NOT_AFTER	2461449600	/* 2048-01-01 */

enum { K_RSA2048, K_RSA4096, K_EC384, K_EC256, K_COUNT };

/* Key of the i-th certificate: 7 RSA 2048, 8 RSA 4096, 4 P-384, 1 P-256. */
static const int key_mix[20] = {
	K_RSA2048, K_RSA4096, K_EC384, K_RSA4096, K_RSA2048,
	K_RSA4096, K_EC384, K_RSA2048, K_RSA4096, K_EC256,
	K_RSA2048, K_RSA4096, K_EC384, K_RSA4096, K_RSA2048,
	K_RSA4096, K_EC384, K_RSA2048, K_RSA4096, K_RSA2048,
};

static const char *countries[] = {
	"US", "DE", "JP", "FR", "GB", "ES", "NL", "CH", "TW", "CN",
	"BE", "PL", "IT", "KR", "HU", "SK", "TR", "RO", "GR", "BM",
};

struct gen {
	EVP_PKEY	*keys[K_COUNT];
	uint64_t	 seed;
	long long	 ncoll;
	long long	 ndup;
	unsigned long	 nsubj;
	int		 onesubj;	/* -1: one subject for all */
};

static void	fatal_ssl(const char *) __attribute__((__noreturn__));
static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gencerts [-1] [-j jobs] [-n count] [-s seed] [-o file]\n");
	exit(2);
}

static void
fatal_ssl(const char *what)
{
	ERR_print_errors_fp(stderr);
	errx(1, "%s failed", what);
}

/* splitmix64: serial bits of block i follow from the seed and i alone. */
static uint64_t
rng_at(uint64_t seed, uint64_t i)
{
	uint64_t	z;

	z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static EVP_PKEY *
key_make(int kind)
{
	EVP_PKEY	*pk;

	switch (kind) {
	case K_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case K_RSA4096:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case K_EC384:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	default:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	}
	if (pk == NULL)
		fatal_ssl("key generation");
	return (pk);
}

static void
name_add(X509_NAME *nm, const char *field, const char *value)
{
	if (!X509_NAME_add_entry_by_txt(nm, field, MBSTRING_UTF8,
	    (const unsigned char *)value, -1, -1, 0))
		fatal_ssl("X509_NAME_add_entry_by_txt");
}

static void
ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION	*ex;

	if ((ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		fatal_ssl("X509V3_EXT_conf_nid");
	if (!X509_add_ext(x, ex, -1))
		fatal_ssl("X509_add_ext");
	X509_EXTENSION_free(ex);
}

/*
 * Builds and signs certificate number `subj' (the subject index) with key
 * `kind'.  Returns its DER encoding in *der (to be freed by the caller).
 */
static int
cert_make(EVP_PKEY *pk, int kind, unsigned long subj, uint64_t rnd[2],
    unsigned char **der)
{
	X509		*x;
	X509_NAME	*nm;
	X509V3_CTX	 ctx;
	ASN1_INTEGER	*sn;
	BIGNUM		*bn;
	unsigned char	 sbytes[16];
	char		 buf[128];
	const EVP_MD	*md;
	int		 len;

	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3))
		fatal_ssl("X509_new");

	memcpy(sbytes, rnd, sizeof(sbytes));
	sbytes[0] &= 0x7f;		/* positive */
	sbytes[0] |= 0x01;		/* no leading zero */
	if ((bn = BN_bin2bn(sbytes, sizeof(sbytes), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_serialNumber(x, sn))
		fatal_ssl("serial");
	BN_free(bn);
	ASN1_INTEGER_free(sn);

	if ((nm = X509_NAME_new()) == NULL)
		fatal_ssl("X509_NAME_new");
	name_add(nm, "C", countries[subj % 20]);
	snprintf(buf, sizeof(buf), "Bench Trust Services %lu Ltd.", subj);
	name_add(nm, "O", buf);
	if (subj % 3 == 0)
		name_add(nm, "OU", "Certification Authority Division");
	snprintf(buf, sizeof(buf), "Bench Root Certification Authority %lu "
	    "G%lu", subj, 1 + subj % 4);
	name_add(nm, "CN", buf);
	if (!X509_set_subject_name(x, nm) || !X509_set_issuer_name(x, nm))
		fatal_ssl("X509_set_subject_name");
	X509_NAME_free(nm);

	if (X509_time_adj_ex(X509_getm_notBefore(x), (int)(subj % 1000), 0,
	    &(time_t){NOT_BEFORE}) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)(subj % 1000), 0,
	    &(time_t){NOT_AFTER}) == NULL)
		fatal_ssl("X509_time_adj_ex");
	if (!X509_set_pubkey(x, pk))
		fatal_ssl("X509_set_pubkey");

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext_add(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	ext_add(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	ext_add(x, &ctx, NID_subject_key_identifier, "hash");

	md = kind == K_EC384 || kind == K_RSA4096 ? EVP_sha384() :
	    EVP_sha256();
	if (X509_sign(x, pk, md) <= 0)
		fatal_ssl("X509_sign");

	*der = NULL;
	if ((len = i2d_X509(x, der)) <= 0)
		fatal_ssl("i2d_X509");
	X509_free(x);
	return (len);
}

/* Writes one DER certificate as a PEM block. */
static void
pem_write(FILE *fp, const unsigned char *der, int len)
{
	unsigned char	 line[80];
	int		 off, n;

	fputs("-----BEGIN CERTIFICATE-----\n", fp);
	for (off = 0; off < len; off += 48) {
		n = len - off < 48 ? len - off : 48;
		EVP_EncodeBlock(line, der + off, n);
		fputs((char *)line, fp);
		fputc('\n', fp);
	}
	fputs("-----END CERTIFICATE-----\n", fp);
}

/*
 * Writes blocks [from, to) to fp; `from' is a multiple of DUP_EVERY, so
 * a duplicate's original and every same-subject pair lie in one range.
 */
static void
gen_range(struct gen *g, FILE *fp, long long from, long long to)
{
	unsigned char	*der, *saved;
	uint64_t	 rnd[2];
	unsigned long	 subj, nsubj;
	long long	 i;
	int		 len, savedlen, kind;

	/* Each full run of DUP_EVERY blocks has one copy, 19 repeats. */
	nsubj = (unsigned long)(from / DUP_EVERY) *
	    (DUP_EVERY - DUP_EVERY / COLL_EVERY);
	subj = nsubj;
	saved = NULL;
	savedlen = 0;
	for (i = from; i < to; i++) {
		if (saved != NULL && i % DUP_EVERY == DUP_EVERY - 1) {
			pem_write(fp, saved, savedlen);
			g->ndup++;
			continue;
		}
		if (i % COLL_EVERY == COLL_EVERY - 1 && i > from) {
			/* Same subject as the one before, another key. */
			kind = key_mix[(i + 1) % 20];
			g->ncoll++;
		} else {
			subj = nsubj++;
			kind = key_mix[i % 20];
		}
		rnd[0] = rng_at(g->seed, 2 * (uint64_t)i);
		rnd[1] = rng_at(g->seed, 2 * (uint64_t)i + 1);
		len = cert_make(g->keys[kind], kind, g->onesubj ? 0 : subj,
		    rnd, &der);
		pem_write(fp, der, len);
		if (i % DUP_EVERY == DUP_SAVE) {
			OPENSSL_free(saved);
			saved = der;
			savedlen = len;
		} else
			OPENSSL_free(der);
	}
	OPENSSL_free(saved);
	g->nsubj += nsubj - (unsigned long)(from / DUP_EVERY) *
	    (DUP_EVERY - DUP_EVERY / COLL_EVERY);
}

int
main(int argc, char *argv[])
{
	struct gen	 g;
	FILE		*fp, *tmp[64];
	pid_t		 pid[64];
	char		 buf[65536];
	const char	*out, *errstr;
	long long	 count, chunk, from, to, j, stat[3];
	size_t		 n;
	long		 jobs;
	int		 ch, kind, status;

	count = 10000;
	out = NULL;
	memset(&g, 0, sizeof(g));
	g.seed = 0x5eed5eed5eedULL;
	if ((jobs = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		jobs = 1;
	while ((ch = getopt(argc, argv, "1j:n:o:s:")) != -1) {
		switch (ch) {
		case '1':
			g.onesubj = 1;
			break;
		case 'j':
			jobs = strtol(optarg, NULL, 10);
			if (jobs < 1 || jobs > 64)
				errx(2, "bad job count: %s", optarg);
			break;
		case 'n':
			count = strtoll(optarg, NULL, 10);
			if (count < 1 || count > 10000000)
				errx(2, "bad count: %s", optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			g.seed = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	errstr = out == NULL ? "stdout" : out;
	if (out == NULL)
		fp = stdout;
	else if ((fp = fopen(out, "w")) == NULL)
		err(1, "%s", out);

	for (kind = 0; kind < K_COUNT; kind++)
		g.keys[kind] = key_make(kind);

	/* Ranges are whole runs of DUP_EVERY blocks. */
	chunk = (count + jobs - 1) / jobs;
	chunk = (chunk + DUP_EVERY - 1) / DUP_EVERY * DUP_EVERY;
	for (j = 0; j < jobs; j++) {
		from = j * chunk;
		to = from + chunk < count ? from + chunk : count;
		pid[j] = -1;
		if (from >= count)
			continue;
		if ((tmp[j] = tmpfile()) == NULL)
			err(1, "tmpfile");
		fflush(NULL);
		if ((pid[j] = fork()) == -1)
			err(1, "fork");
		if (pid[j] == 0) {
			g.ncoll = g.ndup = 0;
			g.nsubj = 0;
			gen_range(&g, tmp[j], from, to);
			stat[0] = g.ncoll;
			stat[1] = g.ndup;
			stat[2] = (long long)g.nsubj;
			if (fwrite(stat, sizeof(stat), 1, tmp[j]) != 1 ||
			    fflush(tmp[j]) != 0)
				_exit(1);
			_exit(0);
		}
	}
	for (j = 0; j < jobs; j++) {
		if (pid[j] == -1)
			continue;
		if (waitpid(pid[j], &status, 0) == -1)
			err(1, "waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			errx(1, "worker %lld failed", j);
		/* The worker's PEM text, then its three counters. */
		if (fseeko(tmp[j], -(off_t)sizeof(stat), SEEK_END) != 0 ||
		    fread(stat, sizeof(stat), 1, tmp[j]) != 1)
			err(1, "worker %lld output", j);
		g.ncoll += stat[0];
		g.ndup += stat[1];
		g.nsubj += (unsigned long)stat[2];
		to = ftello(tmp[j]) - (off_t)sizeof(stat);
		rewind(tmp[j]);
		for (from = 0; from < to; from += (long long)n) {
			n = sizeof(buf) < (size_t)(to - from) ? sizeof(buf) :
			    (size_t)(to - from);
			if (fread(buf, 1, n, tmp[j]) != n)
				err(1, "worker %lld output", j);
			if (fwrite(buf, 1, n, fp) != n)
				err(1, "%s", errstr);
		}
		fclose(tmp[j]);
	}
	if (fflush(fp) != 0 || ferror(fp))
		err(1, "%s", errstr);
	if (fp != stdout && fclose(fp) != 0)
		err(1, "%s", errstr);
	for (kind = 0; kind < K_COUNT; kind++)
		EVP_PKEY_free(g.keys[kind]);
	fprintf(stderr, "gencerts: %lld blocks: %lld unique certificates, "
	    "%lu subjects, %lld same-subject, %lld exact duplicates\n",
	    count, count - g.ndup, g.nsubj, g.ncoll, g.ndup);
	return (0);
}
