/*
 * Unit tests for the PEM scanner (lib/pem.c) and the set of certificates
 * (lib/certset.c), on certificates generated here with OpenSSL.
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

#include "certset.h"
#include "ctest.h"
#include "log.h"
#include "tcert.h"

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

/* t as a CERTIFICATE block of 40-digit lines ending in CRLF. */
static char *
crlf40(struct tcert *t)
{
	unsigned char	*der = NULL;
	char		*b64, *out, *o;
	size_t		 n, i;
	int		 dlen;

	ATF_REQUIRE((dlen = i2d_X509(t->x, &der)) > 0);
	ATF_REQUIRE((b64 = malloc((size_t)dlen / 3 * 4 + 8)) != NULL);
	n = (size_t)EVP_EncodeBlock((unsigned char *)b64, der, dlen);
	ATF_REQUIRE((out = malloc(n + n / 20 + 80)) != NULL);
	o = out + sprintf(out, "-----BEGIN CERTIFICATE-----\r\n");
	for (i = 0; i < n; i += 40)
		o += sprintf(o, "%.*s\r\n", (int)(n - i < 40 ? n - i : 40),
		    b64 + i);
	sprintf(o, "-----END CERTIFICATE-----\r\n");
	OPENSSL_free(der);
	free(b64);
	return (out);
}

/*
 * A certificate's DER is decoded over its bundle's text, which the set
 * keeps: it outlives the caller's buffer, and the bundles read after it.
 * Written in lines of 40 digits and with CRLF, so that the decoder's
 * slow path runs over the text too.
 */
ATF_TC_WITHOUT_HEAD(der_outlives_input);
ATF_TC_BODY(der_outlives_input, tc)
{
	struct tcert	 t[3];
	struct certset	 set;
	struct cert	*c;
	char		*buf, *pem, cn[16];
	size_t		 len;
	int		 i;

	certset_init(&set);
	for (i = 0; i < 3; i++) {
		snprintf(cn, sizeof(cn), "Outlives %d", i);
		mkcert(&t[i], cn, NULL);
		buf = crlf40(&t[i]);
		ATF_CHECK_EQ(certset_read_mem(&set, "b.crt", buf,
		    strlen(buf)), 0);
		memset(buf, 'A', strlen(buf));
		free(buf);
	}
	for (i = 0; i < 3; i++) {
		ATF_REQUIRE((c = certset_find(&set, t[i].fp)) != NULL);
		ATF_REQUIRE(cert_pem(c, &pem, &len) == 0);
		ATF_CHECK_EQ(len, t[i].pemlen);
		ATF_CHECK(memcmp(pem, t[i].pem, t[i].pemlen) == 0);
		free(pem);
		ATF_CHECK_EQ(cert_hash(c), 0);
		ATF_CHECK_EQ(c->hash, X509_subject_name_hash(t[i].x));
		freecert(&t[i]);
	}
	certset_free(&set);
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
	ATF_CHECK_EQ(RB_MIN(certtree, &set.tree)->certlen, 5);
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
	ATF_CHECK_EQ(certset_read_mem(&set, "b.der", (char *)der, (size_t)len),
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
		ATF_CHECK_EQ(certset_read(&set, paths[i]), -1);
		uncapture();
		ATF_CHECK_EQ(set.errors, 1);
		snprintf(re, sizeof(re), "^smtlsd: CA bundle %s", res[i]);
		expect_log(re);
		certset_free(&set);
	}
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, text_between_blocks);
	ATF_TP_ADD_TC(tp, line_numbers);
	ATF_TP_ADD_TC(tp, duplicates);
	ATF_TP_ADD_TC(tp, trusted_certificate);
	ATF_TP_ADD_TC(tp, hash_and_collisions);
	ATF_TP_ADD_TC(tp, pem_roundtrip);
	ATF_TP_ADD_TC(tp, der_outlives_input);
	ATF_TP_ADD_TC(tp, fingerprint_hex);
	ATF_TP_ADD_TC(tp, private_keys);
	ATF_TP_ADD_TC(tp, damaged_blocks);
	ATF_TP_ADD_TC(tp, no_certificate);
	ATF_TP_ADD_TC(tp, bad_files);
	return (atf_no_error());
}
