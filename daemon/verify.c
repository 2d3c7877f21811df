/*
 * The STARTTLS probe.  Inside the event loop, never blocking it: connect
 * to verify_smtp, read the greeting, say EHLO, check that STARTTLS is
 * offered (RFC 3207), ask for it, do the TLS handshake through libevent's
 * OpenSSL filter with the domain's name as SNI, then compare the leaf
 * served with the certificate the pass found good (SHA-256), and verify
 * the chain served for that name against cert_dir.  QUIT, close.
 *
 * Replies are read as RFC 5321 says: "ddd-text" lines continue a reply,
 * "ddd text" (or "ddd") ends it, all lines with one code.  A line longer
 * than LINE_MAX, a reply of more than LINES_MAX lines, or anything after
 * the 220 to STARTTLS (which a man in the middle could have put there
 * before the handshake) ends the probe: whoever listens there is not to
 * be trusted with more.  What is quoted of a reply is made visible and
 * cut short.
 *
 * An attempt has ATTEMPT_MS in all.  While sendmail is coming back from
 * a reload, connections are refused for a few milliseconds and the
 * greeting may take longer: a refused connection, one closed before the
 * greeting, or an attempt out of time is tried again, later each time,
 * for WINDOW_MS from the first.  What the server said (no STARTTLS, a
 * bad reply, a failed handshake, another certificate) is the outcome at
 * once.  The probe's timers exist only while it runs.
 *
 * With several good sets: sendmail has one ServerCertFile, whatever the
 * SNI, so one connection is made, with the first set's name as SNI; the
 * leaf served must be the certificate of one of the sets (whichever it
 * is), and its chain must verify for that set's name.  The others are
 * sets sendmail does not serve (for a web server, say); that is no
 * failure.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "evtime.h"
#include "log.h"
#include "verify.h"

#define ATTEMPT_MS	10000
#define WINDOW_MS	20000	/* retries of transient failures */
#define RETRY_FIRST_MS	500
#define LINE_MAX_LEN	1000	/* RFC 5321 allows 512 */
#define LINES_MAX	64
#define QUOTE_MAX	80	/* of a reply, in a message */

enum step {
	STEP_CONNECT,
	STEP_GREETING,
	STEP_EHLO,
	STEP_STARTTLS,
	STEP_HANDSHAKE,
	STEP_QUIT
};

struct verify {
	struct event_base	*base;
	verify_cb		 done;
	void			*arg;
	int			 running;
	/* The probe, copied from the configuration and the pass. */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 where[80];	/* "127.0.0.1:25" */
	char			 process[64];	/* "sendmail" */
	char			 cert_dir[1024];
	struct verify_expect	 expect[VERIFY_EXPECT_MAX];
	size_t			 nexpect;
	/* This attempt. */
	struct bufferevent	*bev;
	SSL_CTX			*ctx;
	SSL			*ssl;		/* owned by bev once filtered */
	enum step		 step;
	struct event		*ev_attempt;	/* its time limit */
	struct event		*ev_retry;	/* the next attempt */
	struct timespec		 first;		/* of the first attempt */
	long			 retry_ms;
	int			 code;		/* reply being read */
	int			 lines;
	int			 starttls;	/* offered in the EHLO reply */
	char			 first_line[QUOTE_MAX + 1];
	struct verify_result	 res;
	int			 decided;	/* res is the outcome */
	unsigned int		 gen;		/* of the attempt */
};

static void	attempt_start(struct verify *);
static void	on_read(struct bufferevent *, void *);
static void	on_event(struct bufferevent *, short, void *);

static long
ms_since(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000);
}

/* "2027-03-01 12:00 UTC" */
void
verify_date(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		strlcpy(buf, "?", len);
}

/*
 * Up to QUOTE_MAX bytes of what a server said, visible: control
 * characters as ^X, bytes above 0x7e as M-x (as cat -v shows them),
 * so that the message holds nothing a terminal or a log would act on.
 */
static void
quote(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t		 i, o = 0, k;
	unsigned char	 c;
	char		 tmp[8];

	if (dstlen == 0)
		return;
	for (i = 0; i < srclen && i < QUOTE_MAX; i++) {
		c = (unsigned char)src[i];
		k = 0;
		if (c > 0x7e && c != 0x7f) {
			tmp[k++] = 'M';
			tmp[k++] = '-';
			c &= 0x7f;
		}
		if (c < 0x20 || c == 0x7f) {
			tmp[k++] = '^';
			tmp[k++] = c == 0x7f ? '?' : (char)(c + '@');
		} else
			tmp[k++] = (char)c;
		if (o + k + 4 >= dstlen)
			break;
		memcpy(dst + o, tmp, k);
		o += k;
	}
	if (i < srclen && o + 4 <= dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static void	fail(struct verify *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	say(char *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

/* snprintf for messages, which may be cut short. */
static void
say(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void
attempt_end(struct verify *v)
{
	if (v->bev != NULL)
		bufferevent_free(v->bev);	/* the SSL too, once filtered */
	else if (v->ssl != NULL)
		SSL_free(v->ssl);
	v->bev = NULL;
	v->ssl = NULL;
	if (v->ctx != NULL)
		SSL_CTX_free(v->ctx);
	v->ctx = NULL;
	if (v->ev_attempt != NULL)
		event_free(v->ev_attempt);
	v->ev_attempt = NULL;
	ERR_clear_error();
}

/* The probe is over: its outcome to whoever started it. */
static void
finish(struct verify *v)
{
	struct verify_result	res;

	attempt_end(v);
	if (v->ev_retry != NULL)
		event_free(v->ev_retry);
	v->ev_retry = NULL;
	v->running = 0;
	v->gen++;
	res = v->res;
	res.when = time(NULL);
	v->done(v->arg, &res);	/* which says it where it belongs */
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct verify	*v = arg;

	(void)fd;
	(void)what;
	event_free(v->ev_retry);
	v->ev_retry = NULL;
	attempt_start(v);
}

/*
 * This attempt failed, saying why.  A transient failure is tried again
 * while the window lasts; otherwise, or then, it is the outcome.  Once
 * the outcome is known (QUIT is under way), what goes wrong after
 * changes nothing of it.
 */
static void
fail(struct verify *v, int transient, const char *fmt, ...)
{
	struct timeval	tv;
	va_list		ap;

	if (v->decided) {
		finish(v);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(v->res.msg, sizeof(v->res.msg), fmt, ap);
	va_end(ap);
	v->res.ok = 0;
	if (!transient || ms_since(&v->first) + v->retry_ms >= WINDOW_MS) {
		finish(v);
		return;
	}
	log_debug("verify: %s; trying again in %ld ms", v->res.msg,
	    v->retry_ms);
	attempt_end(v);
	ms_to_tv(v->retry_ms, &tv);
	v->retry_ms *= 2;
	if ((v->ev_retry = evtimer_new(v->base, on_retry, v)) == NULL ||
	    evtimer_add(v->ev_retry, &tv) == -1) {
		finish(v);
		return;
	}
}

/*
 * The outcome is known (v->res): say QUIT, and end once the server
 * answered or closed (the attempt's timer bounds the wait).
 */
static void
quit(struct verify *v)
{
	v->decided = 1;
	v->step = STEP_QUIT;
	v->code = 0;
	v->lines = 0;
	if (bufferevent_write(v->bev, "QUIT\r\n", 6) == -1)
		finish(v);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct verify	*v = arg;
	static const char *const steps[] = { "connecting", "the greeting",
	    "the reply to EHLO", "the reply to STARTTLS", "the TLS handshake",
	    "the reply to QUIT" };

	(void)fd;
	(void)what;
	if (v->decided) {
		finish(v);
		return;
	}
	fail(v, 1, "%s: no answer within %d s (timeout) waiting for %s",
	    v->where, ATTEMPT_MS / 1000, steps[v->step]);
}

static void
send_line(struct verify *v, const char *line)
{
	if (bufferevent_write(v->bev, line, strlen(line)) == -1)
		fail(v, 0, "%s: cannot send %s", v->where, line);
}

/* The name we give in EHLO: this host's, when it looks like one. */
static void
ehlo_name(char *buf, size_t len)
{
	char	host[256];
	size_t	i;

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' &&
		    host[i] != '-')
			break;
	if (host[0] == '\0' || host[i] != '\0' || strchr(host, '.') == NULL)
		strlcpy(host, "localhost", sizeof(host));
	snprintf(buf, len, "EHLO %s\r\n", host);
}

static void
cert_time(const ASN1_TIME *t, time_t *out)
{
	struct tm	tm;

	*out = 0;
	memset(&tm, 0, sizeof(tm));
	if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
		*out = timegm(&tm);
}

static void
cert_serial(X509 *x, char *buf, size_t len)
{
	BIGNUM	*bn;
	char	*hex;

	strlcpy(buf, "?", len);
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	    NULL)
		return;
	if ((hex = BN_bn2hex(bn)) != NULL) {
		strlcpy(buf, hex, len);
		OPENSSL_free(hex);
	}
	BN_free(bn);
}

/* The subject's CN (or the whole subject), for messages. */
static void
cert_subject(X509 *x, char *buf, size_t len)
{
	X509_NAME	*n = X509_get_subject_name(x);
	char		 cn[128], *one;

	if (X509_NAME_get_text_by_NID(n, NID_commonName, cn,
	    sizeof(cn)) > 0) {
		quote(buf, len, cn, strlen(cn));
		return;
	}
	if ((one = X509_NAME_oneline(n, NULL, 0)) == NULL) {
		strlcpy(buf, "?", len);
		return;
	}
	quote(buf, len, one, strlen(one));
	OPENSSL_free(one);
}

/*
 * The chain served for e's name, against cert_dir: it verifies, and
 * every certificate of it but the root was sent (a client has no
 * cert_dir to complete it from).  Returns 0, or -1 with why filled in.
 */
static int
chain_check(struct verify *v, X509 *leaf, STACK_OF(X509) *sent,
    const struct verify_expect *e, char *why, size_t whylen)
{
	X509_STORE	*store;
	X509_STORE_CTX	*ctx = NULL;
	X509_LOOKUP	*lu;
	STACK_OF(X509)	*path;
	X509		*x;
	char		 sub[128];
	int		 i, j, found, rv = -1;

	if ((store = X509_STORE_new()) == NULL ||
	    (lu = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir())) ==
	    NULL || X509_LOOKUP_add_dir(lu, v->cert_dir,
	    X509_FILETYPE_PEM) != 1 || (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, leaf, sent) != 1) {
		say(why, whylen, "cannot verify the chain: out of memory");
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), e->name,
	    0);
	if (X509_verify_cert(ctx) != 1) {
		i = X509_STORE_CTX_get_error(ctx);
		say(why, whylen, "chain incomplete: the chain %s serves "
		    "for %s does not verify against %s: %s", v->process,
		    e->name, v->cert_dir, X509_verify_cert_error_string(i));
		goto out;
	}
	path = X509_STORE_CTX_get0_chain(ctx);
	for (i = 1; i < sk_X509_num(path) - 1; i++) {
		x = sk_X509_value(path, i);
		found = 0;
		for (j = 0; sent != NULL && j < sk_X509_num(sent); j++)
			if (X509_cmp(x, sk_X509_value(sent, j)) == 0)
				found = 1;
		if (!found) {
			cert_subject(x, sub, sizeof(sub));
			say(why, whylen, "chain incomplete: %s does not "
			    "send the intermediate \"%s\" for %s (is it in "
			    "%s?)", v->process, sub, e->name, v->cert_dir);
			goto out;
		}
	}
	rv = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return (rv);
}

/* The handshake is done: what was served, against what should be. */
static void
judge(struct verify *v)
{
	struct verify_result	*r = &v->res;
	const struct verify_expect *e;
	STACK_OF(X509)		*sent;
	X509			*leaf;
	unsigned char		 fp[EVP_MAX_MD_SIZE];
	unsigned int		 fplen;
	char			 until[32], want[32], why[400];
	size_t			 i;

	if ((leaf = SSL_get1_peer_certificate(v->ssl)) == NULL) {
		fail(v, 0, "%s sent no certificate in the TLS handshake",
		    v->process);
		return;
	}
	sent = SSL_get_peer_cert_chain(v->ssl);
	r->served = 1;
	cert_serial(leaf, r->served_serial, sizeof(r->served_serial));
	cert_subject(leaf, r->served_subject, sizeof(r->served_subject));
	cert_time(X509_get0_notBefore(leaf), &r->served_not_before);
	cert_time(X509_get0_notAfter(leaf), &r->served_not_after);
	verify_date(r->served_not_after, until, sizeof(until));
	r->matched = -1;
	if (X509_digest(leaf, EVP_sha256(), fp, &fplen) == 1 &&
	    fplen == VERIFY_FPLEN)
		for (i = 0; i < v->nexpect; i++)
			if (memcmp(fp, v->expect[i].fp, VERIFY_FPLEN) == 0) {
				r->matched = (int)i;
				break;
			}
	if (r->matched == -1) {
		e = &v->expect[0];
		verify_date(e->not_after, want, sizeof(want));
		say(r->msg, sizeof(r->msg), "%s on %s serves the wrong "
		    "certificate: serial %s (\"%s\", until %s); expected "
		    "serial %s of %s (until %s)%s", v->process, v->where,
		    r->served_serial, r->served_subject, until, e->serial,
		    e->name, want, v->nexpect > 1 ?
		    ", or another of the good sets" : "");
	} else if (chain_check(v, leaf, sent, &v->expect[r->matched], why,
	    sizeof(why)) == -1)
		strlcpy(r->msg, why, sizeof(r->msg));
	else {
		r->ok = 1;
		say(r->msg, sizeof(r->msg), "%s serves %s serial %s "
		    "until %s", v->process, v->expect[r->matched].name,
		    r->served_serial, until);
	}
	X509_free(leaf);
	quit(v);
}

static void
start_tls(struct verify *v)
{
	struct bufferevent	*tls;
	const struct verify_expect *e = &v->expect[0];

	if (evbuffer_get_length(bufferevent_get_input(v->bev)) > 0) {
		fail(v, 0, "bad reply: %s sent more after its 220 to "
		    "STARTTLS, before the TLS handshake", v->where);
		return;
	}
	if ((v->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (v->ssl = SSL_new(v->ctx)) == NULL ||
	    SSL_set_tlsext_host_name(v->ssl, e->name) != 1) {
		fail(v, 0, "cannot start TLS: out of memory");
		return;
	}
	/* The chain is judged afterwards, against cert_dir. */
	SSL_set_verify(v->ssl, SSL_VERIFY_NONE, NULL);
	tls = bufferevent_openssl_filter_new(v->base, v->bev, v->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		fail(v, 0, "cannot start TLS: out of memory");
		return;
	}
	v->bev = tls;		/* which owns the plain one, and the SSL */
	v->step = STEP_HANDSHAKE;
	bufferevent_setcb(v->bev, on_read, NULL, on_event, v);
	bufferevent_enable(v->bev, EV_READ | EV_WRITE);
}

/* A whole reply has been read. */
static void
on_reply(struct verify *v)
{
	char	ehlo[300];

	switch (v->step) {
	case STEP_GREETING:
		if (v->code != 220) {
			fail(v, 0, "bad reply: %s greets with \"%s\"",
			    v->where, v->first_line);
			return;
		}
		ehlo_name(ehlo, sizeof(ehlo));
		v->step = STEP_EHLO;
		v->starttls = 0;
		send_line(v, ehlo);
		break;
	case STEP_EHLO:
		if (v->code != 250) {
			fail(v, 0, "bad reply: %s answers EHLO with \"%s\"",
			    v->where, v->first_line);
			return;
		}
		if (!v->starttls) {
			say(v->res.msg, sizeof(v->res.msg), "%s on %s "
			    "does not offer STARTTLS (it drops it when it "
			    "cannot use its certificate or key: see its "
			    "log)", v->process, v->where);
			quit(v);
			return;
		}
		v->step = STEP_STARTTLS;
		send_line(v, "STARTTLS\r\n");
		break;
	case STEP_STARTTLS:
		if (v->code != 220) {
			fail(v, 0, "bad reply: %s answers STARTTLS with "
			    "\"%s\"", v->where, v->first_line);
			return;
		}
		start_tls(v);
		break;
	case STEP_QUIT:
		finish(v);
		break;
	default:
		break;
	}
}

/*
 * One line of a reply.  It may end the attempt, or the probe.
 */
static void
on_line(struct verify *v, const char *line, size_t len)
{
	const char	*text;
	int		 code;

	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		quote(v->first_line, sizeof(v->first_line), line, len);
		if (v->step == STEP_QUIT)
			finish(v);
		else
			fail(v, 0, "bad reply: %s sent \"%s\", which is not "
			    "an SMTP reply", v->where, v->first_line);
		return;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (v->lines == 0) {
		v->code = code;
		quote(v->first_line, sizeof(v->first_line), line, len);
	} else if (code != v->code) {
		if (v->step == STEP_QUIT)
			finish(v);
		else
			fail(v, 0, "bad reply: %s changes its reply code "
			    "within a reply (\"%s\", then %d)", v->where,
			    v->first_line, code);
		return;
	}
	if (++v->lines > LINES_MAX) {
		fail(v, 0, "bad reply: %s sent a reply of more than %d lines "
		    "(\"%s\"...)", v->where, LINES_MAX, v->first_line);
		return;
	}
	/* EHLO keywords, one a line after the first (RFC 5321 4.1.1.1). */
	text = len > 4 ? line + 4 : "";
	if (v->step == STEP_EHLO && v->lines > 1 &&
	    strncasecmp(text, "STARTTLS", 8) == 0 &&
	    (text[8] == '\0' || text[8] == ' '))
		v->starttls = 1;
	if (len > 3 && line[3] == '-')
		return;
	v->lines = 0;
	on_reply(v);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct verify	*v = arg;
	struct evbuffer	*in;
	struct evbuffer_ptr eol;
	size_t		 eollen, len;
	char		 line[LINE_MAX_LEN + 1], raw[QUOTE_MAX];
	unsigned int	 gen = v->gen;
	int		 n;

	in = bufferevent_get_input(bev);
	if (v->step == STEP_HANDSHAKE) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	for (;;) {
		eol = evbuffer_search_eol(in, NULL, &eollen, EVBUFFER_EOL_CRLF);
		if (eol.pos == -1) {
			if (evbuffer_get_length(in) <= LINE_MAX_LEN)
				return;		/* more to come */
			len = evbuffer_get_length(in);
		} else
			len = (size_t)eol.pos;
		if (len > LINE_MAX_LEN) {
			n = evbuffer_copyout(in, raw, sizeof(raw));
			quote(v->first_line, sizeof(v->first_line), raw,
			    n > 0 ? (size_t)n : 0);
			if (v->step == STEP_QUIT)
				finish(v);
			else
				fail(v, 0, "bad reply: %s sent a line longer "
				    "than %d bytes (\"%s\")", v->where,
				    LINE_MAX_LEN, v->first_line);
			return;
		}
		evbuffer_remove(in, line, len);
		line[len] = '\0';
		evbuffer_drain(in, eollen);
		/* A NUL byte ends no line: it is text like any other. */
		on_line(v, line, len);
		/* Over, tried again, or TLS from here on. */
		if (v->gen != gen || v->bev != bev)
			return;
	}
}

static const char *
tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long	 e, last = 0;
	const char	*r;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		last = e;
	if (last == 0 && (last = ERR_peek_last_error()) == 0)
		return (NULL);
	if ((r = ERR_reason_error_string(last)) == NULL) {
		ERR_error_string_n(last, buf, len);
		return (buf);
	}
	strlcpy(buf, r, len);
	return (buf);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct verify	*v = arg;
	const char	*why;
	char		 buf[256];
	int		 err;

	err = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_CONNECTED) {
		if (v->step == STEP_CONNECT) {
			v->step = STEP_GREETING;
			v->code = v->lines = 0;
			bufferevent_enable(bev, EV_READ | EV_WRITE);
		} else if (v->step == STEP_HANDSHAKE)
			judge(v);
		return;
	}
	if (v->decided) {		/* closed after QUIT, or before */
		finish(v);
		return;
	}
	switch (v->step) {
	case STEP_CONNECT:
		fail(v, 1, "%s: connection %s", v->where,
		    err == ECONNREFUSED ? "refused" : strerror(err));
		break;
	case STEP_HANDSHAKE:
		if ((why = tls_error(bev, buf, sizeof(buf))) != NULL)
			fail(v, 0, "TLS handshake with %s failed: %s",
			    v->where, why);
		else if (what & BEV_EVENT_EOF)
			fail(v, 0, "TLS handshake with %s failed: connection "
			    "closed", v->where);
		else
			fail(v, 0, "TLS handshake with %s failed: %s",
			    v->where, strerror(err));
		break;
	case STEP_GREETING:
		/* sendmail closes at once while it is starting. */
		fail(v, v->lines == 0, "%s closed the connection before %s",
		    v->where, v->lines == 0 ? "its greeting" :
		    "the end of its greeting");
		break;
	default:
		fail(v, 0, "%s closed the connection (%s) after \"%s\"",
		    v->where, (what & BEV_EVENT_EOF) ? "end of file" :
		    strerror(err), v->first_line);
		break;
	}
}

static void
attempt_start(struct verify *v)
{
	struct timeval	tv = { ATTEMPT_MS / 1000, 0 };

	memset(&v->res, 0, sizeof(v->res));
	v->res.matched = -1;
	v->decided = 0;
	v->gen++;
	v->step = STEP_CONNECT;
	v->code = v->lines = v->starttls = 0;
	v->first_line[0] = '\0';
	if ((v->ev_attempt = evtimer_new(v->base, on_timeout, v)) == NULL ||
	    evtimer_add(v->ev_attempt, &tv) == -1 ||
	    (v->bev = bufferevent_socket_new(v->base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		fail(v, 0, "cannot start the probe: out of memory");
		return;
	}
	bufferevent_setcb(v->bev, on_read, NULL, on_event, v);
	if (bufferevent_socket_connect(v->bev, (struct sockaddr *)&v->addr,
	    (int)v->addrlen) == -1)
		fail(v, 1, "%s: connection %s", v->where,
		    errno == ECONNREFUSED ? "refused" : strerror(errno));
}

struct verify *
verify_new(struct event_base *base, verify_cb done, void *arg)
{
	struct verify	*v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return (NULL);
	v->base = base;
	v->done = done;
	v->arg = arg;
	return (v);
}

/* Ends a probe that still runs (its outcome is not reported). */
void
verify_free(struct verify *v)
{
	if (v == NULL)
		return;
	attempt_end(v);
	if (v->ev_retry != NULL)
		event_free(v->ev_retry);
	free(v);
}

int
verify_running(const struct verify *v)
{
	return (v->running);
}

/*
 * Starts a probe of what sendmail serves on conf's verify_smtp against
 * the n certificates of expect (n >= 1, the first one's name as SNI);
 * done gets its outcome.  Returns 0, or -1 when one is running already
 * or there is nothing to probe.
 */
int
verify_start(struct verify *v, const struct conf *conf,
    const struct verify_expect *expect, size_t n)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&v->addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&v->addr;

	if (v->running || conf->verify_host == NULL || n == 0)
		return (-1);
	memset(&v->addr, 0, sizeof(v->addr));
	if (inet_pton(AF_INET, conf->verify_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)conf->verify_port);
		v->addrlen = sizeof(*sin);
		snprintf(v->where, sizeof(v->where), "%s:%d",
		    conf->verify_host, conf->verify_port);
	} else if (inet_pton(AF_INET6, conf->verify_host,
	    &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)conf->verify_port);
		v->addrlen = sizeof(*sin6);
		snprintf(v->where, sizeof(v->where), "[%s]:%d",
		    conf->verify_host, conf->verify_port);
	} else
		return (-1);
	strlcpy(v->process, conf->reload_process, sizeof(v->process));
	strlcpy(v->cert_dir, conf->cert_dir, sizeof(v->cert_dir));
	if (n > VERIFY_EXPECT_MAX)
		n = VERIFY_EXPECT_MAX;
	memcpy(v->expect, expect, n * sizeof(*expect));
	v->nexpect = n;
	v->running = 1;
	v->retry_ms = RETRY_FIRST_MS;
	clock_gettime(CLOCK_MONOTONIC, &v->first);
	log_debug("verify: probing %s for %s", v->where, expect[0].name);
	attempt_start(v);
	return (0);
}

/*
 * When what sendmail serves is not a good set's certificate (an old
 * one, say), expiry_warn is about the one it serves: returns 1 with the
 * warning in msg when it runs out within expiry_warn days, else 0.
 */
int
verify_expiry(const struct verify_result *v, const struct conf *conf,
    char *msg, size_t len)
{
	time_t		now;
	char		on[32], issued[32];
	long long	days;

	now = time(NULL);
	if (!v->served || v->matched != -1 || conf->expiry_warn_days == 0 ||
	    v->served_not_after == 0 || now < v->served_not_after -
	    (time_t)conf->expiry_warn_days * 86400)
		return (0);
	days = (long long)(v->served_not_after - now) / 86400;
	verify_date(v->served_not_after, on, sizeof(on));
	verify_date(v->served_not_before, issued, sizeof(issued));
	say(msg, len, "the certificate %s serves (serial %s) expires in "
	    "%lld day%s, on %s (issued on %s; is dehydrated running, and "
	    "%s reloaded?)", conf->reload_process, v->served_serial, days,
	    days == 1 ? "" : "s", on, issued, conf->reload_process);
	return (1);
}

static void
once_done(void *arg, const struct verify_result *res)
{
	*(struct verify_result *)arg = *res;
}

/*
 * The probe, here and now, in an event loop of its own (for -1, -R
 * with no daemon, and -C).  Returns 0 when sendmail serves what it
 * should (or there was nothing to probe: res->msg is "" then), -1
 * otherwise; res says what.  It logs nothing but the retries (at debug
 * level): the caller says the outcome its own way.
 */
int
verify_once(const struct conf *conf, const struct verify_expect *expect,
    size_t n, struct verify_result *res)
{
	struct event_base	*base;
	struct verify		*v;
	void			(*old)(int);
	int			 rv;

	memset(res, 0, sizeof(*res));
	res->matched = -1;
	if (conf->verify_host == NULL || n == 0)
		return (0);
	if ((base = event_base_new()) == NULL ||
	    (v = verify_new(base, once_done, res)) == NULL) {
		if (base != NULL)
			event_base_free(base);
		strlcpy(res->msg, "cannot start the probe: out of memory",
		    sizeof(res->msg));
		return (-1);
	}
	/* A server that closes while we write must not end us. */
	old = signal(SIGPIPE, SIG_IGN);
	if (verify_start(v, conf, expect, n) == 0)
		event_base_dispatch(base);
	else
		strlcpy(res->msg, "cannot start the probe", sizeof(res->msg));
	signal(SIGPIPE, old);
	rv = res->ok ? 0 : -1;
	verify_free(v);
	event_base_free(base);
	return (rv);
}
