# smtlsd: keeps sendmail's STARTTLS files right.
# Works with GNU make and BSD make (bmake): no conditionals, no $^.

# The release; dist/freebsd/mail/smtlsd (DISTVERSION) and make deb use it.
VERSION=	0.1.0
PREFIX?=	/usr/local
CC?=		cc
# bmake's sys.mk sets CFLAGS itself: optimisation goes in COPTS.
COPTS?=		-O2 -g
WARNS=		-Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
		-Wshadow -Wpointer-arith -Wformat=2
SANITIZE?=	0
SAN_1=		-fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all
SAN=		$(SAN_$(SANITIZE))

SYS_CFLAGS!=	sh mk/config.sh cflags
SYS_LIBS!=	sh mk/config.sh libs
OSDEP!=		sh mk/config.sh osdep
WATCH!=		sh mk/config.sh watch
ATF_CFLAGS!=	pkg-config --cflags atf-c 2>/dev/null || echo
ATF_LIBS!=	pkg-config --libs atf-c 2>/dev/null || echo -latf-c

ALL_CFLAGS=	$(COPTS) $(CFLAGS) $(WARNS) $(SAN) -Ilib -Idaemon $(SYS_CFLAGS)
ALL_LDFLAGS=	$(LDFLAGS) $(SAN)

LIB=		lib/libsmtls.a
LIB_OBJS=	lib/log.o lib/conf.o lib/pem.o lib/certset.o lib/store.o \
		lib/store_index.o lib/file.o lib/dhparam.o lib/acme.o \
		lib/reload.o lib/watch.o lib/safefile.o lib/sendmailcf.o \
		lib/watch-poll.o lib/watch-$(WATCH).o \
		lib/osdep-$(OSDEP).o
LIB_HDRS=	lib/compat.h lib/log.h lib/conf.h lib/pem.h lib/certset.h \
		lib/store.h lib/store_index.h lib/osdep.h lib/file.h \
		lib/evtime.h lib/dhparam.h lib/acme.h lib/reload.h \
		lib/watch.h lib/safefile.h lib/sendmailcf.h

PROG=		daemon/smtlsd
PROG_OBJS=	daemon/smtlsd.o daemon/pass.o daemon/engine.o daemon/resync.o \
		daemon/reloader.o daemon/dhchild.o daemon/check.o daemon/verify.o
PROG_HDRS=	daemon/pass.h daemon/engine.h daemon/reloader.h daemon/dhchild.h \
		daemon/resync.h daemon/check.h daemon/verify.h

TEST_PROGS=	tests/conf_test tests/bundle_test tests/storelib_test \
		tests/fake_sendmail tests/attack_pty
# What the ATF C tests share: stderr captured to a file, LSan's defaults.
TEST_LIB=	tests/ctest.c
# The certificates the certificate set's and the store's tests make.
TEST_CERT=	tests/tcert.c

.SUFFIXES: .c .o
.PHONY: all deps demo test check-tests check-freebsd deb bench fuzz \
		install uninstall clean

# mk/deps.sh check: a missing library or pkg-config is named, with the
# packages to install, before the compiler stumbles on it.
all:
	@sh mk/deps.sh check build
	@sh mk/flavor.sh "$(SANITIZE)" "$(CC)"
	@$(MAKE) SANITIZE=$(SANITIZE) $(PROG)

.c.o:
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_OBJS) $(PROG_OBJS): $(LIB_HDRS)
$(PROG_OBJS): $(PROG_HDRS)

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(PROG): $(PROG_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(PROG_OBJS) $(LIB) $(SYS_LIBS)

tests/conf_test: tests/conf_test.c $(TEST_LIB) tests/ctest.h $(LIB) \
	    $(LIB_HDRS)
	$(CC) $(ALL_CFLAGS) $(ATF_CFLAGS) $(ALL_LDFLAGS) -o $@ \
	    tests/conf_test.c $(TEST_LIB) $(LIB) $(ATF_LIBS) $(SYS_LIBS)

tests/bundle_test: tests/bundle_test.c $(TEST_LIB) $(TEST_CERT) \
	    tests/ctest.h tests/tcert.h $(LIB) $(LIB_HDRS)
	$(CC) $(ALL_CFLAGS) $(ATF_CFLAGS) $(ALL_LDFLAGS) -o $@ \
	    tests/bundle_test.c $(TEST_LIB) $(TEST_CERT) $(LIB) $(ATF_LIBS) \
	    $(SYS_LIBS)

tests/storelib_test: tests/storelib_test.c $(TEST_LIB) $(TEST_CERT) \
	    tests/ctest.h tests/tcert.h $(LIB) $(LIB_HDRS)
	$(CC) $(ALL_CFLAGS) $(ATF_CFLAGS) $(ALL_LDFLAGS) -o $@ \
	    tests/storelib_test.c $(TEST_LIB) $(TEST_CERT) $(LIB) \
	    $(ATF_LIBS) $(SYS_LIBS)

# The sendmail stand-in of the daemon tests: plain C, no ATF.
tests/fake_sendmail: tests/fake_sendmail.c
	$(CC) $(COPTS) $(CFLAGS) $(WARNS) $(SAN) $(ALL_LDFLAGS) -o $@ \
	    tests/fake_sendmail.c

# The pseudo-terminal of attack_test.sh's tty case: plain C, no ATF.
tests/attack_pty: tests/attack_pty.c
	$(CC) $(COPTS) $(CFLAGS) $(WARNS) $(SAN) $(ALL_LDFLAGS) -o $@ \
	    tests/attack_pty.c

deps:
	@sh mk/deps.sh build

check-tests: $(PROG) $(TEST_PROGS)

# Builds everything, runs the whole suite under kyua (or only the test
# programs named in TESTS), ends with one line "N passed, N failed" and
# fails when anything failed.  SANITIZE=1: built with ASan and UBSan.
TESTS?=
test:
	@sh mk/deps.sh build test e2e freebsd
	@sh mk/flavor.sh "$(SANITIZE)" "$(CC)"
	@$(MAKE) SANITIZE=$(SANITIZE) check-tests
	@sh tests/run.sh $(TESTS)

# The FreeBSD gate: compiles and links for FreeBSD 14 with zig cc
# (mk/check-freebsd.sh); tests/freebsd_test.sh runs it in make test.
check-freebsd:
	@sh mk/deps.sh build test freebsd
	@sh mk/check-freebsd.sh "$(MAKE)"

# A Debian package, smtlsd_VERSION_ARCH.deb here (mk/deb.sh).
deb:
	@sh mk/flavor.sh "$(SANITIZE)" "$(CC)"
	@$(MAKE) SANITIZE=$(SANITIZE) $(PROG)
	@sh mk/deb.sh

demo:
	@sh mk/deps.sh build e2e
	@$(MAKE) all
	@sh mk/demo.sh

bench:
	@sh mk/deps.sh build bench
	@$(MAKE) all
	@sh bench/run.sh

# libFuzzer targets (clang): the bundle reader, the configuration parser,
# the pidfile reader and the store's index, each run for FUZZ_SECONDS
# after replaying the seed corpus tests/fuzz/corpus/ (tests/fuzz/run.sh).
FUZZ_SECONDS?=	60
.PHONY: fuzz-build

fuzz:
	@sh mk/deps.sh build fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh run

fuzz-build:
	@sh mk/deps.sh build fuzz
	@sh tests/fuzz/run.sh build

install:
	@sh mk/flavor.sh "$(SANITIZE)" "$(CC)"
	@$(MAKE) SANITIZE=$(SANITIZE) $(PROG)
	@sh mk/install.sh install "$(DESTDIR)" "$(PREFIX)"

uninstall:
	@sh mk/install.sh uninstall "$(DESTDIR)" "$(PREFIX)"

clean:
	rm -f $(LIB_OBJS) $(LIB) $(PROG_OBJS) $(PROG) $(TEST_PROGS) .flavor
	rm -rf tests/fuzz/obj obj-freebsd
	rm -f tests/fuzz/*_fuzz smtlsd_*.deb
