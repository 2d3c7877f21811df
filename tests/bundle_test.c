/*
 * Unit tests for the bundle reader (lib/bundle.c) and the store
 * (lib/store.c), on certificates generated here with OpenSSL.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atf-c.h>

#include "bundle.h"
#include "ctest.h"
#include "log.h"
#include "store.h"

struct tcert {
	X509		*x;
	EVP_PKEY	*key;
	char		*pem;		/* PEM_write_bio_X509's output */
	size_t		 pemlen;
	unsigned char	 fp[CERT_FPLEN];
};

static void
expect_log(const char *re)
{
	if (!atf_utils_grep_file("%s", ERRFILE, re)) {
		atf_utils_cat_file(ERRFILE, "stderr: ");
		atf_tc_fail("nothing logged matches %s", re);
	}
}

static char *
bio_text(BIO *b, size_t *lenp)
{
	char	*p, *s;
	long	 n;

	n = BIO_get_mem_data(b, &p);
	ATF_REQUIRE(n >= 0 && (s = malloc((size_t)n + 1)) != NULL);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	if (lenp != NULL)
		*lenp = (size_t)n;
	return (s);
}

/*
 * A self-signed CA certificate with subject CN=cn (O=org when given);
 * two calls with the same names give a hash collision.
 */
static void
mkcert(struct tcert *t, const char *cn, const char *org)
{
	X509_NAME	*name;
	BIO		*b;
	unsigned char	*der = NULL;
	int		 len;
	static long	 serial = 1;

	memset(t, 0, sizeof(*t));
	ATF_REQUIRE((t->key = EVP_EC_gen("P-256")) != NULL);
	ATF_REQUIRE((t->x = X509_new()) != NULL);
	ATF_REQUIRE(X509_set_version(t->x, 2));
	ATF_REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(t->x), serial++));
	name = X509_get_subject_name(t->x);
	if (org != NULL)
		ATF_REQUIRE(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		    (const unsigned char *)org, -1, -1, 0));
	ATF_REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0));
	ATF_REQUIRE(X509_set_issuer_name(t->x, name));
	ATF_REQUIRE(X509_gmtime_adj(X509_getm_notBefore(t->x), 0));
	ATF_REQUIRE(X509_gmtime_adj(X509_getm_notAfter(t->x), 86400L * 3650));
	ATF_REQUIRE(X509_set_pubkey(t->x, t->key));
	ATF_REQUIRE(X509_sign(t->x, t->key, EVP_sha256()) > 0);
	ATF_REQUIRE((b = BIO_new(BIO_s_mem())) != NULL);
	ATF_REQUIRE(PEM_write_bio_X509(b, t->x));
	t->pem = bio_text(b, &t->pemlen);
	BIO_free(b);
	ATF_REQUIRE((len = i2d_X509(t->x, &der)) > 0);
	ATF_REQUIRE(cert_fingerprint(der, (size_t)len, t->fp) == 0);
	OPENSSL_free(der);
}

static void
freecert(struct tcert *t)
{
	X509_free(t->x);
	EVP_PKEY_free(t->key);
	free(t->pem);
}

/* The certificate with its trust settings, as TRUSTED CERTIFICATE. */
static char *
trusted_pem(struct tcert *t)
{
	ASN1_OBJECT	*obj;
	BIO		*b;
	char		*s;

	ATF_REQUIRE((obj = OBJ_txt2obj("serverAuth", 0)) != NULL);
	ATF_REQUIRE(X509_add1_trust_object(t->x, obj));
	ASN1_OBJECT_free(obj);
	ATF_REQUIRE((b = BIO_new(BIO_s_mem())) != NULL);
	ATF_REQUIRE(PEM_write_bio_X509_AUX(b, t->x));
	s = bio_text(b, NULL);
	BIO_free(b);
	return (s);
}

static char *
key_pem(struct tcert *t, int traditional)
{
	BIO	*b;
	char	*s;

	ATF_REQUIRE((b = BIO_new(BIO_s_mem())) != NULL);
	if (traditional)
		ATF_REQUIRE(PEM_write_bio_PrivateKey_traditional(b, t->key,
		    NULL, NULL, 0, NULL, NULL));
	else
		ATF_REQUIRE(PEM_write_bio_PrivateKey(b, t->key, NULL, NULL, 0,
		    NULL, NULL));
	s = bio_text(b, NULL);
	BIO_free(b);
	return (s);
}

/* Concatenates strings into a new buffer. */
static char *
cat(const char *first, ...)
{
	va_list		 ap;
	const char	*s;
	char		*buf = NULL;
	size_t		 len = 0, n;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		n = strlen(s);
		ATF_REQUIRE((buf = realloc(buf, len + n + 1)) != NULL);
		memcpy(buf + len, s, n);
		len += n;
	}
	va_end(ap);
	if (buf == NULL)
		ATF_REQUIRE((buf = strdup("")) != NULL);
	else
		buf[len] = '\0';
	return (buf);
}

/* Reads buf as the bundle "b.crt", capturing what is logged. */
static int
readmem(struct certset *set, const char *buf)
{
	int	rv;

	log_init(1, 0);
	capture();
	rv = bundle_read_mem(set, "b.crt", buf, strlen(buf));
	uncapture();
	return (rv);
}

static int
lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return (n);
}

/* ---------------------------------------------------------- reader */

ATF_TC_WITHOUT_HEAD(text_between_blocks);
ATF_TC_BODY(text_between_blocks, tc)
{
	struct tcert	 a, b, c;
	struct certset	 set;
	char		*buf, *crlf, *d;
	const char	*s;

	mkcert(&a, "Alpha", NULL);
	mkcert(&b, "Bravo", NULL);
	mkcert(&c, "Charlie", NULL);
	buf = cat("##\n## header\n##\nCertificate:\n    Data: ...\n"
	    "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
	    a.pem, "SHA256 Fingerprint=AB:CD\n  -----BEGIN CERTIFICATE-----\n"
	    "\n", b.pem, "\n\n\n", c.pem, NULL);
	buf[strlen(buf) - 1] = '\0';	/* no newline at the very end */
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), 0);
	ATF_CHECK_EQ(set.count, 3);
	ATF_CHECK_EQ(set.errors, 0);
	ATF_CHECK(certset_find(&set, a.fp) != NULL);
	ATF_CHECK(certset_find(&set, b.fp) != NULL);
	ATF_CHECK(certset_find(&set, c.fp) != NULL);
	certset_free(&set);

	/* The same with CRLF line ends. */
	ATF_REQUIRE((crlf = malloc(strlen(buf) * 2 + 1)) != NULL);
	for (s = buf, d = crlf; *s != '\0'; s++) {
		if (*s == '\n')
			*d++ = '\r';
		*d++ = *s;
	}
	*d = '\0';
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, crlf), 0);
	ATF_CHECK_EQ(set.count, 3);
	certset_free(&set);
	free(crlf);
	free(buf);
	freecert(&a);
	freecert(&b);
	freecert(&c);
}

ATF_TC_WITHOUT_HEAD(line_numbers);
ATF_TC_BODY(line_numbers, tc)
{
	struct tcert	 a, b;
	struct certset	 set;
	struct cert	*c;
	char		*buf;

	mkcert(&a, "Alpha", NULL);
	mkcert(&b, "Bravo", NULL);
	buf = cat("one\ntwo\n", a.pem, "three\n", b.pem, NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), 0);
	ATF_REQUIRE((c = certset_find(&set, a.fp)) != NULL);
	ATF_CHECK_EQ(c->line, 3);
	ATF_CHECK_STREQ(c->file, "b.crt");
	ATF_REQUIRE((c = certset_find(&set, b.fp)) != NULL);
	ATF_CHECK_EQ(c->line, (size_t)(3 + lines(a.pem) + 1));
	certset_free(&set);
	free(buf);
	freecert(&a);
	freecert(&b);
}

ATF_TC_WITHOUT_HEAD(duplicates);
ATF_TC_BODY(duplicates, tc)
{
	struct tcert	 a, b;
	struct certset	 set;
	char		*buf, *tr;

	mkcert(&a, "Alpha", NULL);
	mkcert(&b, "Bravo", NULL);
	tr = trusted_pem(&a);
	buf = cat(a.pem, b.pem, a.pem, tr, a.pem, NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), 0);
	ATF_CHECK_EQ(set.count, 2);
	ATF_CHECK_EQ(set.duplicates, 3);
	ATF_CHECK_EQ(set.errors, 0);
	/* The first copy is the one kept. */
	ATF_CHECK_EQ(certset_find(&set, a.fp)->trusted, 0);
	ATF_CHECK_EQ(certset_find(&set, a.fp)->line, 1);
	certset_free(&set);
	free(buf);
	free(tr);
	freecert(&a);
	freecert(&b);
}

ATF_TC_WITHOUT_HEAD(trusted_certificate);
ATF_TC_BODY(trusted_certificate, tc)
{
	struct tcert		 a;
	struct certset		 set;
	struct cert		*c;
	const unsigned char	*p;
	X509			*x;
	char			*tr, *pem;
	size_t			 len;

	mkcert(&a, "Trusted", NULL);
	tr = trusted_pem(&a);
	ATF_REQUIRE(strstr(tr, "BEGIN TRUSTED CERTIFICATE") != NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, tr), 0);
	ATF_REQUIRE((c = certset_find(&set, a.fp)) != NULL);
	ATF_CHECK_EQ(c->trusted, 1);
	ATF_CHECK_EQ(cert_hash(c), 0);
	ATF_CHECK_EQ(c->hash, X509_subject_name_hash(a.x));
	/* Written back as it was read: the same block, trust included. */
	ATF_REQUIRE(cert_pem(c, &pem, &len) == 0);
	ATF_CHECK_EQ(len, strlen(tr));
	ATF_CHECK(memcmp(pem, tr, len) == 0);
	p = c->der;
	ATF_REQUIRE((x = d2i_X509_AUX(NULL, &p, (long)c->derlen)) != NULL);
	ATF_CHECK(X509_check_trust(x, NID_server_auth, 0) ==
	    X509_TRUST_TRUSTED);
	X509_free(x);
	free(pem);
	certset_free(&set);
	free(tr);
	freecert(&a);
}

ATF_TC_WITHOUT_HEAD(hash_and_collisions);
ATF_TC_BODY(hash_and_collisions, tc)
{
	struct tcert	 t[4];
	struct certset	 set;
	struct cert	*c;
	char		*buf;
	int		 i;

	mkcert(&t[0], "Shared", "Org");
	mkcert(&t[1], "Shared", "Org");
	mkcert(&t[2], "Shared", "Org");
	mkcert(&t[3], "Other", NULL);
	buf = cat(t[0].pem, t[1].pem, t[2].pem, t[3].pem, NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), 0);
	ATF_CHECK_EQ(set.count, 4);
	for (i = 0; i < 4; i++) {
		ATF_REQUIRE((c = certset_find(&set, t[i].fp)) != NULL);
		ATF_CHECK_EQ(c->hashed, 0);	/* not decoded while read */
		ATF_CHECK_EQ(cert_hash(c), 0);
		ATF_CHECK_EQ(c->hash, X509_subject_name_hash(t[i].x));
	}
	ATF_CHECK_EQ(certset_find(&set, t[0].fp)->hash,
	    certset_find(&set, t[2].fp)->hash);
	ATF_CHECK(certset_find(&set, t[0].fp)->hash !=
	    certset_find(&set, t[3].fp)->hash);
	certset_free(&set);
	free(buf);
	for (i = 0; i < 4; i++)
		freecert(&t[i]);
}

ATF_TC_WITHOUT_HEAD(pem_roundtrip);
ATF_TC_BODY(pem_roundtrip, tc)
{
	struct tcert	 t;
	struct certset	 set;
	struct cert	*c;
	char		*pem, cn[80];
	size_t		 len;
	int		 seen[3] = { 0, 0, 0 }, i;

	/* DER lengths of every residue mod 3 (base64 padding). */
	for (i = 0; i < 60 && !(seen[0] && seen[1] && seen[2]); i++) {
		snprintf(cn, sizeof(cn), "%.*s", i + 1,
		    "Round trip certificate with a name of growing length...."
		    "...........");
		mkcert(&t, cn, NULL);
		certset_init(&set);
		ATF_REQUIRE(readmem(&set, t.pem) == 0);
		ATF_REQUIRE((c = certset_find(&set, t.fp)) != NULL);
		seen[c->derlen % 3] = 1;
		ATF_REQUIRE(cert_pem(c, &pem, &len) == 0);
		if (len != t.pemlen || memcmp(pem, t.pem, len) != 0)
			atf_tc_fail("cert_pem differs from PEM_write_bio_X509 "
			    "for DER length %zu:\n%s\n%s", c->derlen, pem,
			    t.pem);
		free(pem);
		certset_free(&set);
		freecert(&t);
	}
	ATF_CHECK(seen[0] && seen[1] && seen[2]);
}

ATF_TC_WITHOUT_HEAD(fingerprint_hex);
ATF_TC_BODY(fingerprint_hex, tc)
{
	unsigned char	fp[CERT_FPLEN], back[CERT_FPLEN];
	char		hex[2 * CERT_FPLEN + 1];
	size_t		i;

	for (i = 0; i < CERT_FPLEN; i++)
		fp[i] = (unsigned char)(i * 37 + 5);
	cert_fphex(fp, hex);
	ATF_CHECK_EQ(strlen(hex), 2 * CERT_FPLEN);
	ATF_CHECK_EQ(cert_fpparse(hex, back), 0);
	ATF_CHECK(memcmp(fp, back, CERT_FPLEN) == 0);
	hex[10] = 'A';
	ATF_CHECK_EQ(cert_fpparse(hex, back), -1);
	hex[10] = 'g';
	ATF_CHECK_EQ(cert_fpparse(hex, back), -1);
	hex[10] = '\0';
	ATF_CHECK_EQ(cert_fpparse(hex, back), -1);
}

ATF_TC_WITHOUT_HEAD(private_keys);
ATF_TC_BODY(private_keys, tc)
{
	struct tcert	 a, b;
	struct certset	 set;
	struct cert	*c;
	char		*buf, *k1, *k2, line[64];

	mkcert(&a, "Alpha", NULL);
	mkcert(&b, "Bravo", NULL);
	k1 = key_pem(&a, 0);		/* PRIVATE KEY */
	k2 = key_pem(&b, 1);		/* EC PRIVATE KEY */
	ATF_REQUIRE(strstr(k2, "BEGIN EC PRIVATE KEY") != NULL);
	buf = cat(a.pem, k1, b.pem, k2,
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
	    "-----END ENCRYPTED PRIVATE KEY-----\n", NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), 0);
	ATF_CHECK_EQ(set.count, 2);
	ATF_CHECK_EQ(set.keys, 3);
	snprintf(line, sizeof(line), "b\\.crt:%d: a private key",
	    lines(a.pem) + 1);
	expect_log(line);
	snprintf(line, sizeof(line), "b\\.crt:%d: a private key",
	    lines(a.pem) + lines(k1) + lines(b.pem) + 1);
	expect_log(line);
	/* Nothing of a key is kept. */
	RB_FOREACH(c, certtree, &set.tree)
		ATF_CHECK(c->derlen < 1000);
	certset_free(&set);
	free(buf);
	free(k1);
	free(k2);
	freecert(&a);
	freecert(&b);
}

ATF_TC_WITHOUT_HEAD(damaged_blocks);
ATF_TC_BODY(damaged_blocks, tc)
{
	struct tcert	 a, b;
	struct certset	 set;
	char		*buf, *bad, *p, re[128];
	int		 la;

	mkcert(&a, "Alpha", NULL);
	mkcert(&b, "Bravo", NULL);
	la = lines(a.pem);

	/* Not base64 (line 2 of a block). */
	ATF_REQUIRE((bad = strdup(a.pem)) != NULL);
	p = strchr(bad, '\n') + 1;
	*p = '*';
	buf = cat(bad, b.pem, NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), -1);
	ATF_CHECK_EQ(set.count, 1);
	ATF_CHECK_EQ(set.errors, 1);
	ATF_CHECK(certset_find(&set, b.fp) != NULL);
	expect_log("^smtlsd: b\\.crt:1: certificate is not valid base64");
	certset_free(&set);
	free(buf);

	/* '=' padding in the middle. */
	p = strchr(bad, '\n') + 1;
	*p = 'M';
	p[10] = '=';
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, bad), -1);
	ATF_CHECK_EQ(set.count, 0);
	certset_free(&set);
	free(bad);

	/* Valid base64, not DER. */
	buf = cat(a.pem, "-----BEGIN CERTIFICATE-----\naGVsbG8K\n"
	    "-----END CERTIFICATE-----\n", b.pem, NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), -1);
	ATF_CHECK_EQ(set.count, 2);
	ATF_CHECK_EQ(set.errors, 1);
	snprintf(re, sizeof(re), "b\\.crt:%d: certificate is not valid DER",
	    la + 1);
	expect_log(re);
	certset_free(&set);
	free(buf);

	/*
	 * DER with a byte after it: d2i_X509 ignores it, so is it here,
	 * and dropped (not trust settings); under TRUSTED CERTIFICATE,
	 * d2i_X509_AUX refuses it.
	 */
	buf = cat("-----BEGIN CERTIFICATE-----\nMAMCAQAA\n"
	    "-----END CERTIFICATE-----\n", "-----BEGIN TRUSTED CERTIFICATE"
	    "-----\nMAMCAQEA\n-----END TRUSTED CERTIFICATE-----\n", NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), -1);
	ATF_CHECK_EQ(set.errors, 1);
	ATF_REQUIRE_EQ(set.count, 1);
	ATF_CHECK_EQ(RB_MIN(certtree, &set.tree)->derlen, 5);
	ATF_CHECK_EQ(RB_MIN(certtree, &set.tree)->aux, 0);
	expect_log("b\\.crt:4: certificate is not valid DER");
	certset_free(&set);
	free(buf);

	/* A DER SEQUENCE that is no certificate: fails when decoded. */
	buf = cat("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n"
	    "-----END CERTIFICATE-----\n", NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), 0);
	ATF_REQUIRE_EQ(set.count, 1);
	log_init(1, 0);
	capture();
	ATF_CHECK_EQ(cert_hash(RB_MIN(certtree, &set.tree)), -1);
	uncapture();
	expect_log("b\\.crt:1: certificate does not decode");
	certset_free(&set);
	free(buf);

	/* Wrong END line; END lost before the next BEGIN; truncated. */
	ATF_REQUIRE((bad = strdup(a.pem)) != NULL);
	ATF_REQUIRE((p = strstr(bad, "-----END")) != NULL);
	*p = '\0';
	buf = cat(bad, "-----END X509 CRL-----\n", bad, b.pem, a.pem, bad,
	    NULL);
	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, buf), -1);
	ATF_CHECK_EQ(set.count, 2);
	ATF_CHECK_EQ(set.errors, 3);
	expect_log("^smtlsd: b\\.crt:1: certificate ends at line [0-9]+ with "
	    "the wrong END");
	snprintf(re, sizeof(re), "^smtlsd: b\\.crt:%d: certificate has no END",
	    la + 1);
	expect_log(re);
	snprintf(re, sizeof(re), "^smtlsd: b\\.crt:%d: certificate has no END "
	    "line \\(truncated", la + 1 + (la - 1) + lines(b.pem) + la);
	expect_log(re);
	certset_free(&set);
	free(buf);
	free(bad);
	freecert(&a);
	freecert(&b);
}

ATF_TC_WITHOUT_HEAD(no_certificate);
ATF_TC_BODY(no_certificate, tc)
{
	struct tcert	 a;
	struct certset	 set;
	unsigned char	*der = NULL;
	int		 len;

	certset_init(&set);
	ATF_CHECK_EQ(readmem(&set, "just text\n"), -1);
	ATF_CHECK_EQ(set.errors, 1);
	expect_log("b\\.crt: no PEM certificate found");
	certset_free(&set);

	mkcert(&a, "Alpha", NULL);
	ATF_REQUIRE((len = i2d_X509(a.x, &der)) > 0);
	certset_init(&set);
	log_init(1, 0);
	capture();
	ATF_CHECK_EQ(bundle_read_mem(&set, "b.der", (char *)der, (size_t)len),
	    -1);
	uncapture();
	expect_log("b\\.der: no PEM certificate found; it looks like DER");
	certset_free(&set);
	OPENSSL_free(der);
	freecert(&a);
}

ATF_TC_WITHOUT_HEAD(bad_files);
ATF_TC_BODY(bad_files, tc)
{
	struct certset	set;
	const char	*paths[] = { "missing.crt", "dir.crt", "/dev/null",
			    "/dev/zero", "empty.crt", "fifo.crt" };
	const char	*res[] = { "missing\\.crt: No such file",
			    "dir\\.crt: is a directory", "/dev/null: not a "
			    "regular", "/dev/zero: not a regular",
			    "empty\\.crt: empty file", "fifo\\.crt: not a "
			    "regular" };
	char		re[128];
	size_t		i;
	int		fd;

	ATF_REQUIRE(mkdir("dir.crt", 0755) == 0);
	ATF_REQUIRE((fd = open("empty.crt", O_CREAT | O_WRONLY, 0644)) != -1);
	close(fd);
	ATF_REQUIRE(mkfifo("fifo.crt", 0644) == 0);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		certset_init(&set);
		log_init(1, 0);
		capture();
		ATF_CHECK_EQ(bundle_read(&set, paths[i]), -1);
		uncapture();
		ATF_CHECK_EQ(set.errors, 1);
		snprintf(re, sizeof(re), "^smtlsd: CA bundle %s", res[i]);
		expect_log(re);
		certset_free(&set);
	}
}

/* ----------------------------------------------------------- store */

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
		n = (size_t)snprintf(line, sizeof(line), "%s %llu %lld %lld.%09ld "
		    "%lld.%09ld\n", de->d_name, (unsigned long long)st.st_ino,
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
	expect_log("certs/\\.smtlsd\\.tmp\\.[0-9a-f]+: writing: File too large");
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

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, text_between_blocks);
	ATF_TP_ADD_TC(tp, line_numbers);
	ATF_TP_ADD_TC(tp, duplicates);
	ATF_TP_ADD_TC(tp, trusted_certificate);
	ATF_TP_ADD_TC(tp, hash_and_collisions);
	ATF_TP_ADD_TC(tp, pem_roundtrip);
	ATF_TP_ADD_TC(tp, fingerprint_hex);
	ATF_TP_ADD_TC(tp, private_keys);
	ATF_TP_ADD_TC(tp, damaged_blocks);
	ATF_TP_ADD_TC(tp, no_certificate);
	ATF_TP_ADD_TC(tp, bad_files);
	ATF_TP_ADD_TC(tp, store_basic);
	ATF_TP_ADD_TC(tp, store_noprune);
	ATF_TP_ADD_TC(tp, store_warns_once);
	ATF_TP_ADD_TC(tp, store_dryrun);
	ATF_TP_ADD_TC(tp, store_write_fails);
	ATF_TP_ADD_TC(tp, store_bad_dir);
	return (atf_no_error());
}
