/*
 * DH parameters: is the file there and good enough, make new ones,
 * write them atomically.  sendmail reads the file with
 * PEM_read_bio_DHparams, so only "DH PARAMETERS" (PKCS#3) counts.
 * Generation takes seconds to minutes: the daemon calls dhparam_make in
 * a child process; the RFC 7919 groups are instant.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "conf.h"
#include "dhparam.h"
#include "file.h"
#include "log.h"

#define DH_LABEL	"-----BEGIN DH PARAMETERS-----"
#define DH_MAX		(64 * 1024)

/*
 * Whether pem holds PKCS#3 DH parameters of at least bits bits in the
 * block sendmail's PEM_read_bio_DHparams reads: the first DH PARAMETERS
 * or X9.42 DH PARAMETERS block.  d2i_KeyParams decodes it directly; the
 * generic decoder (PEM_read_bio_Parameters) would first set up one for
 * every key type the providers know, a tenth of a no-op pass on a small
 * bundle.  Returns 0 when it does, or -1 with why filled in.
 */
static int
dh_ok(const char *pem, size_t len, int bits, char *why, size_t whylen)
{
	EVP_PKEY		*pk = NULL;
	BIO			*bio;
	const unsigned char	*p;
	unsigned char		*der;
	char			*name, *header;
	long			 derlen;
	int			 found = 0, x942 = 0, have;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	while (!found && PEM_read_bio(bio, &name, &header, &der, &derlen)) {
		x942 = strcmp(name, "X9.42 DH PARAMETERS") == 0;
		found = x942 || strcmp(name, "DH PARAMETERS") == 0;
		if (found && !x942) {
			p = der;
			pk = d2i_KeyParams(EVP_PKEY_DH, NULL, &p, derlen);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!found)
		snprintf(why, whylen, "%s", strstr(pem, DH_LABEL) != NULL ?
		    "damaged DH PARAMETERS block" : "no DH PARAMETERS block");
	else if (x942)
		snprintf(why, whylen, "X9.42 DH parameters, not PKCS#3");
	else if (pk == NULL)
		snprintf(why, whylen, "not DH parameters");
	else if ((have = EVP_PKEY_get_bits(pk)) < bits)
		snprintf(why, whylen, "%d bits, fewer than dh_bits %d", have,
		    bits);
	else {
		EVP_PKEY_free(pk);
		return (0);
	}
	EVP_PKEY_free(pk);
	return (-1);
}

/*
 * Whether the directory of path is a symbolic link (cert_dir, where
 * dh.param lives by default, replaced by one): then smtlsd neither
 * reads nor writes through it.
 */
static int
dir_is_link(const char *path)
{
	struct stat	 st;
	char		 dir[PATH_MAX], *p;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (p = strrchr(dir, '/')) == NULL || p == dir)
		return (0);
	*p = '\0';
	return (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode));
}

static int
dh_same(const struct dh_known *k, const struct stat *st, int bits)
{
	return (k != NULL && k->valid && k->bits == bits &&
	    filestamp_same(&k->stamp, st));
}

/*
 * Checks the DH parameter file.  Returns DH_GOOD, DH_MAKE when it must
 * be made (why says why), or DH_LEAVE when it must be left alone (a
 * symbolic link, say; why says so).  known, when not NULL, remembers the
 * file found good: the same file (inode, size, times) is not decoded
 * again; any write changes its ctime.
 */
enum dh_state
dhparam_check(const char *path, int bits, struct dh_known *known,
    char *why, size_t whylen)
{
	struct stat	 st;
	char		*pem;
	size_t		 len;
	enum dh_state	 rv;

	if (dir_is_link(path)) {
		snprintf(why, whylen, "its directory is a symbolic link, "
		    "which smtlsd does not follow");
		return (DH_LEAVE);
	}
	if (lstat(path, &st) == -1) {
		snprintf(why, whylen, "%s", errno == ENOENT ? "missing" :
		    strerror(errno));
		return (errno == ENOENT ? DH_MAKE : DH_LEAVE);
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "a symbolic link, which smtlsd does "
		    "not follow or replace");
		return (DH_LEAVE);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return (DH_LEAVE);
	}
	if (dh_same(known, &st, bits))
		return (DH_GOOD);
	if (known != NULL)
		known->valid = 0;
	if (file_read_file(path, O_NOFOLLOW, DH_MAX, &pem, &len) == -1) {
		snprintf(why, whylen, "unreadable: %s", strerror(errno));
		return (DH_MAKE);
	}
	rv = dh_ok(pem, len, bits, why, whylen) == 0 ? DH_GOOD : DH_MAKE;
	free(pem);
	if (rv == DH_GOOD && known != NULL) {
		known->valid = 1;
		known->bits = bits;
		filestamp_set(&known->stamp, &st);
	}
	return (rv);
}

/*
 * Makes DH parameters as PEM in a new buffer: generated (slow) or one
 * of the RFC 7919 groups (instant).  Returns 0, or -1 with a message.
 */
int
dhparam_make(enum conf_dhsource src, int bits, char **out, size_t *outlen)
{
	OSSL_PARAM	 params[4], *p = params;
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pk = NULL;
	BIO		*bio = NULL;
	BUF_MEM		*mem;
	size_t		 pbits = (size_t)bits;
	int		 gen = 2, rv = -1;
	char		 type[] = "generator", group[16];

	/* Parameters, not the ctrl macros: 3.0 crashes in the latter. */
	if (src == DH_GENERATE) {
		*p++ = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_FFC_TYPE, type, 0);
		*p++ = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_FFC_PBITS,
		    &pbits);
		*p++ = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_GENERATOR,
		    &gen);
	} else {
		strlcpy(group, conf_dhsource_name(src), sizeof(group));
		*p++ = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	}
	*p = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL)) == NULL ||
	    EVP_PKEY_paramgen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_params(ctx, params) <= 0 ||
	    EVP_PKEY_paramgen(ctx, &pk) <= 0)
		goto fail;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_Parameters(bio, pk))
		goto fail;
	BIO_get_mem_ptr(bio, &mem);
	if ((*out = malloc(mem->length + 1)) == NULL)
		goto fail;
	memcpy(*out, mem->data, mem->length);
	(*out)[mem->length] = '\0';
	*outlen = mem->length;
	rv = 0;
fail:
	if (rv == -1)
		log_ssl("making DH parameters");
	BIO_free(bio);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return (rv);
}

/*
 * Whether pem (from a child, say) is usable: 0, or -1 with a message.
 */
int
dhparam_verify_pem(const char *pem, size_t len, int bits)
{
	char	why[128];

	if (dh_ok(pem, len, bits, why, sizeof(why)) == -1) {
		log_warnx("new DH parameters rejected: %s", why);
		return (-1);
	}
	return (0);
}

/*
 * Writes pem to path atomically, mode 0644.  Returns 0 or -1 (logged).
 */
int
dhparam_write(const char *path, const char *pem, size_t len)
{
	if (dir_is_link(path)) {
		log_warnx("dh_params %s: its directory is a symbolic link, "
		    "which smtlsd does not follow; not written", path);
		return (-1);
	}
	return (file_write_atomic(path, pem, len, 0644));
}
