/*
 * libFuzzer target: the store's index (cert_dir/.smtlsd.index, read by
 * lib/store_index.c).  Initialization fills a directory of its own with
 * a real pass over a bundle file of three certificates (two share a
 * subject hash: .0 and .1); each input then replaces the index, and a
 * dry-run pass reads it.  A pass never trusts a record whose inode, size
 * and ctime do not match the file, and reads a file whose record is
 * missing or damaged, so over the same directory and bundle a dry run
 * must plan no change, whatever the index says.
 *
 * SMTLSD_FUZZ_INDEX_OUT=file copies the index the real pass wrote there
 * (how the seed corpus/index/real was made). */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certset.h"
#include "file.h"
#include "fuzz.h"
#include "log.h"
#include "store.h"
#include "store_index.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char bundle[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBljCCATugAwIBAgIUaHfmxaTy6MijnQPod6jPDvyTHg8wCgYIKoZIzj0EAwIw\n"
	"HzEdMBsGA1UEAwwUc210bHNkIGluZGV4IGZ1enogQ0EwIBcNMjYxMTI3MjMwNDA2\n"
	"WhgPMjEyNjExMDMyMzA0MDZaMB8xHTAbBgNVBAMMFHNtdGxzZCBpbmRleCBmdXp6\n"
	"IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQNWQmPotjOdpe7wvBcCPN4nc\n"
	"3eAXuFS4G0lcvCNZXVZZTHPjWGVqgoJlP+mOMi8VBMMomKhXqeCpcNRFefRRfaNT\n"
	"MFEwHQYDVR0OBBYEFH+eUvHSs1PBRxxjt5QK/CTATJNRMB8GA1UdIwQYMBaAFH+e\n"
	"UvHSs1PBRxxjt5QK/CTATJNRMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n"
	"SQAwRgIhAKhPWzpC2O22tQk2BJpNE5B/R7oUErxABjhvXR2JqyqCAiEAsHoH1Mp9\n"
	"OoNJOLiaNCxepMsxlA7QwgHYgZXOx0gGtRk=\n"
	"-----END CERTIFICATE-----\n"
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBljCCATugAwIBAgIUV3O7BWO3JjNxXhiFSEnjS9zAQ+8wCgYIKoZIzj0EAwIw\n"
	"HzEdMBsGA1UEAwwUc210bHNkIGluZGV4IGZ1enogQ0EwIBcNMjYxMTI3MjMwNDA2\n"
	"WhgPMjEyNjExMDMyMzA0MDZaMB8xHTAbBgNVBAMMFHNtdGxzZCBpbmRleCBmdXp6\n"
	"IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGjGls+7oUsiqL+npoKTKBei3\n"
	"uA89AnaFM2zbWVy5zkffq4ws/S2BMQZleQQeat+E8Gs1aBpHh9ww5E0UgN1VAaNT\n"
	"MFEwHQYDVR0OBBYEFKK+0IyQL/qOy3M5FusTPh0XGBtkMB8GA1UdIwQYMBaAFKK+\n"
	"0IyQL/qOy3M5FusTPh0XGBtkMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n"
	"SQAwRgIhAO37lfT2ejcQUVrO8p6sHZIXTfvJxd/s8yjnp+MAgrddAiEA1PTHVK27\n"
	"Kh6TRHDX9wvveI/4azdWkELCTYvIb2fYb10=\n"
	"-----END CERTIFICATE-----\n"
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBojCCAUegAwIBAgIUVfwBAKjzSeScS+pntja+q++hMO4wCgYIKoZIzj0EAwIw\n"
	"JTEjMCEGA1UEAwwac210bHNkIGluZGV4IGZ1enogb3RoZXIgQ0EwIBcNMjYxMTI3\n"
	"MjMwNDA2WhgPMjEyNjExMDMyMzA0MDZaMCUxIzAhBgNVBAMMGnNtdGxzZCBpbmRl\n"
	"eCBmdXp6IG90aGVyIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUZb5STv8\n"
	"IxD/bRrRXvZaY+yRt+TM1RKJZGobTZYQtkMDnu6vLPHMkKiWgY7HSA4kCVYAXmWo\n"
	"0VQL5LJxeSD79aNTMFEwHQYDVR0OBBYEFEzb/5K1bebStfOVhIytTljBMhEsMB8G\n"
	"A1UdIwQYMBaAFEzb/5K1bebStfOVhIytTljBMhEsMA8GA1UdEwEB/wQFMAMBAf8w\n"
	"CgYIKoZIzj0EAwIDSQAwRgIhAJzAgNs65P0SXju+zbHLtTLI7HuHRRVz3b1kk6eG\n"
	"MZdSAiEAkTHbTdj3XOxUyiQdK+ao0YPT3nZTOhBGNk7UFf8jf3M=\n"
	"-----END CERTIFICATE-----\n";

static char	dir[PATH_MAX], index_path[PATH_MAX + 16];
static char	bundle_path[PATH_MAX + 16];
/* One pass over the bundle into dir; its statistics in *st. */
static int
pass(int flags, struct store_stats *st)
{
	struct certset	 set;
	struct store	*s;
	int		 rv;

	if ((s = store_new()) == NULL)
		errx(1, "store_new");
	certset_init(&set);
	if (certset_read(&set, bundle_path) == -1)
		errx(1, "the fuzzer's own bundle does not read");
	rv = store_sync(s, dir, &set, flags, st, NULL, NULL);
	certset_free(&set);
	store_free(s);
	return (rv);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct store_stats	 st;
	const char		*out;
	char			*buf;
	size_t			 len;

	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_dir(dir, sizeof(dir), "index");
	snprintf(index_path, sizeof(index_path), "%s/%s", dir, STORE_INDEX);
	snprintf(bundle_path, sizeof(bundle_path), "%s/bundle.pem", dir);
	if (file_write_atomic(bundle_path, bundle, sizeof(bundle) - 1,
	    0644) == -1)
		errx(1, "%s: not written", bundle_path);
	if (pass(0, &st) == -1 || st.added != 3)
		errx(1, "the first pass into %s failed", dir);
	if ((out = getenv("SMTLSD_FUZZ_INDEX_OUT")) != NULL) {
		if (file_read_file(index_path, 0, 1 << 20, &buf, &len) == -1)
			err(1, "%s", index_path);
		if (file_write_atomic(out, buf, len, 0644) == -1)
			errx(1, "%s: not written", out);
		free(buf);
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_stats	 st;

	fuzz_put(index_path, data, size, 0644);	/* new inode, times */
	(void)pass(STORE_DRYRUN, &st);
	if (st.added != 0 || st.replaced != 0 || st.removed != 0 ||
	    (st.errors == 0 && st.unchanged != 3)) {
		fprintf(fuzz_diag, "an index made a dry run plan changes: "
		    "%zu added, %zu replaced, %zu removed, %zu unchanged, "
		    "%zu errors\n",
		    st.added, st.replaced, st.removed, st.unchanged,
		    st.errors);
		abort();
	}
	return (0);
}
