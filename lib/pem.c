/*
 * The PEM scanner.  Reads CERTIFICATE, X509 CERTIFICATE and TRUSTED
 * CERTIFICATE blocks and ignores every line outside a block (FreeBSD's
 * ca-root-nss.crt has a text dump before each one).  A block is refused
 * where OpenSSL's PEM reader (PEM_read_bio, get_header_and_data) refuses
 * it, and the message names the rule; the scan goes on after it.
 */

#include <sys/types.h>

#include <string.h>

#include "log.h"
#include "pem.h"

#define B64_WS		0x80
#define B64_PAD		0x81
#define LABEL_MAX	40

/* Value + 1 of each base64 digit; 0 for anything else. */
static const unsigned char	b64dec[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
	[' '] = B64_WS, ['\t'] = B64_WS, ['\r'] = B64_WS, ['\n'] = B64_WS,
	['='] = B64_PAD,
};

/*
 * Decodes base64 text, skipping white space.  Returns the number of
 * bytes written to out (at most len * 3 / 4, which out must hold), or -1
 * when the text is not base64.  Whole groups of four digits go at once;
 * white space, padding and groups split across lines a digit at a time.
 * out may be s itself: every byte is written after the digits it comes
 * from are read, and never ahead of them.
 */
long
pem_b64_decode(const char *s, size_t len, unsigned char *out)
{
	const unsigned char	*u = (const unsigned char *)s;
	unsigned long		 acc = 0;
	unsigned int		 a, b, c, d, v;
	long			 n = 0;
	int			 bits = 0, pad = 0;
	size_t			 i = 0;

	while (i < len) {
		if (bits == 0 && pad == 0) {
			for (; i + 4 <= len; i += 4) {
				a = b64dec[u[i]] - 1U;
				b = b64dec[u[i + 1]] - 1U;
				c = b64dec[u[i + 2]] - 1U;
				d = b64dec[u[i + 3]] - 1U;
				if ((a | b | c | d) > 63)
					break;
				v = a << 18 | b << 12 | c << 6 | d;
				out[n] = (unsigned char)(v >> 16);
				out[n + 1] = (unsigned char)(v >> 8);
				out[n + 2] = (unsigned char)v;
				n += 3;
			}
			if (i == len)
				break;
		}
		v = b64dec[u[i++]];
		if (v == B64_WS)
			continue;
		if (v == B64_PAD) {
			pad++;
			continue;
		}
		if (pad > 0 || v == 0)
			return (-1);
		acc = (acc << 6) | (unsigned long)(v - 1);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6 || acc != 0)
		return (-1);
	return (n);
}

/*
 * The length of the DER SEQUENCE at the start of der (its header
 * included), or 0 when there is no complete one.
 */
size_t
pem_der_len(const unsigned char *der, size_t len)
{
	size_t	body, hdr, i, n;

	if (len < 2 || der[0] != 0x30)
		return (0);
	if (der[1] < 0x80) {
		body = der[1];
		hdr = 2;
	} else {
		n = der[1] & 0x7f;
		if (n == 0 || n > 4 || len < 2 + n)
			return (0);
		for (body = 0, i = 0; i < n; i++)
			body = body << 8 | der[2 + i];
		hdr = 2 + n;
	}
	if (body > len - hdr)
		return (0);
	return (hdr + body);
}

static const char *
next_line(const char *eol, const char *end)
{
	return (eol < end ? eol + 1 : end);
}

static const char *
line_end(const char *p, const char *end)
{
	const char	*eol;

	return ((eol = memchr(p, '\n', (size_t)(end - p))) != NULL ? eol : end);
}

/*
 * The length of the line s to eol without what OpenSSL's PEM reader
 * strips from its end (every byte up to the space: white space, CR,
 * control characters).
 */
static size_t
line_len(const char *s, const char *eol)
{
	while (eol > s && (unsigned char)eol[-1] <= ' ')
		eol--;
	return ((size_t)(eol - s));
}

/*
 * Why OpenSSL's PEM reader refuses a block for its body line s to eol,
 * or NULL.  *st is 0 before the first line, then 1; 2 after a blank
 * first line, when the lines must be 64 characters but the last; 3
 * after that shorter one.
 */
static const char *
body_rule(int *st, const char *s, const char *eol)
{
	size_t	len;
	int	first;

	len = line_len(s, eol);
	first = *st == 0;
	if (*st == 0)
		*st = 1;
	if (len == 0) {
		if (!first)
			return ("a blank line inside the base64 (OpenSSL "
			    "reads the lines before it as a header)");
		*st = 2;
		return (NULL);
	}
	if (*st == 1 && memchr(s, ':', len) != NULL)
		return ("a header line (OpenSSL reads it as an encrypted "
		    "block's)");
	if (*st == 3 || (*st == 2 && len > 64))
		return ("after a blank line, base64 lines that are not of 64 "
		    "characters, the last one shorter");
	if (*st == 2 && len < 64)
		*st = 3;
	return (NULL);
}

static int
label_is(const char *label, size_t len, const char *want)
{
	return (len == strlen(want) && memcmp(label, want, len) == 0);
}

/*
 * Whether the block labelled label is a certificate, and *trusted when
 * a TRUSTED CERTIFICATE.  Says what other blocks are.
 */
static int
label_cert(const char *name, size_t line, const char *label, size_t len,
    int *trusted, struct pem_stats *st)
{
	*trusted = 0;
	/* The labels OpenSSL's PEM reader takes for certificates. */
	if (label_is(label, len, "CERTIFICATE") ||
	    label_is(label, len, "X509 CERTIFICATE"))
		return (1);
	if (label_is(label, len, "TRUSTED CERTIFICATE")) {
		*trusted = 1;
		return (1);
	}
	if (len >= 11 && memcmp(label + len - 11, "PRIVATE KEY", 11) == 0) {
		log_warnx("%s:%zu: a private key in a CA bundle: ignored and "
		    "never copied; remove it from the bundle", name, line);
		st->keys++;
	} else if (label_is(label, len, "X509 CRL"))
		log_warnx("%s:%zu: a CRL (X509 CRL block): not copied to the "
		    "CA directory, which smtlsd keeps for certificates only; "
		    "OpenSSL's CRL checking does not see it there", name,
		    line);
	else
		log_debug("%s:%zu: skipping a %.*s block", name, line,
		    (int)len, label);
	return (0);
}

/*
 * Scans buf (len bytes, named name in messages) and hands each
 * certificate block to fn; st counts what was found.  Each block's
 * base64 is decoded over itself: a certificate's DER stays in buf,
 * which it fits in, and the text of the blocks handed on is lost.
 * Never fails: a damaged block is said, counted, and skipped.
 */
void
pem_scan(const char *name, char *buf, size_t len, pem_block_fn fn,
    void *arg, struct pem_stats *st)
{
	const char	*p = buf, *end = buf + len, *eol, *label, *q, *qeol;
	const char	*why, *text;
	unsigned char	*der;
	size_t		 line = 0, start, labellen, whyline;
	long		 n;
	int		 trusted, rule;

	memset(st, 0, sizeof(*st));
	while (p < end) {
		eol = line_end(p, end);
		/* OpenSSL skips a UTF-8 byte order mark before the first. */
		if (line++ == 0 && eol - p >= 3 &&
		    memcmp(p, "\357\273\277", 3) == 0)
			p += 3;
		if (eol - p < 11 || memcmp(p, "-----BEGIN ", 11) != 0) {
			p = next_line(eol, end);
			continue;
		}
		label = p + 11;
		for (labellen = 0; label + labellen + 5 <= eol &&
		    memcmp(label + labellen, "-----", 5) != 0; labellen++)
			;
		start = line;
		if (label + labellen + 5 > eol || labellen > LABEL_MAX ||
		    !label_cert(name, start, label, labellen, &trusted, st)) {
			p = next_line(eol, end);
			continue;
		}
		/* OpenSSL takes no BEGIN line with more after its dashes. */
		if (line_len(p, eol) != (size_t)(label + labellen + 5 - p)) {
			log_warnx("%s:%zu: text after -----BEGIN %.*s----- on "
			    "its line: OpenSSL's PEM reader refuses this "
			    "block", name, start, (int)labellen, label);
			st->errors++;
			p = next_line(eol, end);
			continue;
		}

		/* The block's lines, up to one that starts with dashes. */
		why = NULL;
		whyline = 0;
		rule = 0;
		text = q = next_line(eol, end);
		for (;;) {
			if (q >= end) {
				log_warnx("%s:%zu: certificate has no END "
				    "line (truncated file?)", name, start);
				st->errors++;
				return;
			}
			line++;
			qeol = line_end(q, end);
			if (qeol - q >= 5 && memcmp(q, "-----", 5) == 0)
				break;
			if (why == NULL &&
			    (why = body_rule(&rule, q, qeol)) != NULL)
				whyline = line;
			q = next_line(qeol, end);
		}
		if (qeol - q >= 11 && memcmp(q, "-----BEGIN ", 11) == 0) {
			/* The block lost its end: read on from this line. */
			log_warnx("%s:%zu: certificate has no END line "
			    "before the next block at line %zu", name, start,
			    line);
			st->errors++;
			line--;
			p = q;
			continue;
		}
		p = next_line(qeol, end);
		if ((size_t)(qeol - q) < 14 + labellen ||
		    memcmp(q, "-----END ", 9) != 0 ||
		    memcmp(q + 9, label, labellen) != 0 ||
		    memcmp(q + 9 + labellen, "-----", 5) != 0) {
			log_warnx("%s:%zu: certificate ends at line %zu with "
			    "the wrong END line", name, start, line);
			st->errors++;
			continue;
		}
		if (line_len(q, qeol) != 14 + labellen) {
			log_warnx("%s:%zu: text after -----END %.*s----- on "
			    "its line: OpenSSL's PEM reader refuses the block "
			    "begun at line %zu", name, line, (int)labellen,
			    label, start);
			st->errors++;
			continue;
		}
		if (why != NULL) {
			log_warnx("%s:%zu: %s: OpenSSL's PEM reader refuses "
			    "the block begun at line %zu", name, whyline, why,
			    start);
			st->errors++;
			continue;
		}
		der = (unsigned char *)buf + (text - buf);
		if ((n = pem_b64_decode(text, (size_t)(q - text), der)) <= 0) {
			log_warnx("%s:%zu: certificate is not valid base64 "
			    "(damaged block)", name, start);
			st->errors++;
		} else if (fn(arg, start, trusted, der, (size_t)n) == -1)
			st->errors++;
		else
			st->blocks++;
	}
}
