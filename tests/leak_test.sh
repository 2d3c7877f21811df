#! /usr/bin/env atf-sh
# Leaks: the daemon runs many passes of every kind under valgrind
# (memcheck, --leak-check=full), and valgrind must report no definite or
# indirect leak and no memory error.  Built with SANITIZE=1, smtlsd runs
# the same passes under AddressSanitizer's LeakSanitizer instead.  The
# passes, in turn: SIGUSR1, a changed CA bundle (seen by the watch), a
# renewal of the ACME set (a new certificate, verified, then
# reload_command), SIGHUP with another configuration (reload_signal
# instead of reload_command), SIGHUP with a broken configuration (kept
# the old one: no pass), removed DH parameters made again.
#
# CI runs LEAK_PASSES=100; issue 6 asks for 1000:
#	cd tests && LEAK_PASSES=1000 kyua test leak_test.sh

# The daemon here may run under valgrind or be killed mid-pass.
D_DEADLINE=${D_DEADLINE:-20}
. "$(atf_get_srcdir)/lib.sh"

LEAK_PASSES=${LEAK_PASSES:-100}

# leak_setup: work/ with a bundle pool, a test CA, an ACME domain, two
# configurations (conf.a: reload_command; conf.b: reload_signal HUP to a
# sendmail that is not running) and conf, the one in use.
leak_setup()
{
	t_copy_bin
	W=$(pwd)/work
	daemon_elsewhere "$W"
	mkdir -p "$W/certs" "$W/le/certs"
	daemon_pki_leaves "$W/pki" 3
	i=1
	: >"$W/pool.pem"
	while [ "$i" -le 12 ]; do
		t_cert "$W/pool$i" "/O=smtlsd leak test/CN=Pool CA $i"
		cat "$W/pool$i.pem" >>"$W/pool.pem"
		i=$((i + 1))
	done
	leak_bundle 0
	ts=1700000000
	daemon_renew "$W/le/certs/mail.example.test" "$W/pki" 1 "$ts"
	daemon_conf_alone "$W/conf.a" "$W" "$W/certs" \
	    "acme_dir $W/le/certs" "settle 0.05" \
	    "reload_command \"/bin/true\"" "reload_timeout 10"
	daemon_conf_alone "$W/conf.b" "$W" "$W/certs" \
	    "acme_dir $W/le/certs" "settle 0.1" \
	    "reload_signal HUP" "reload_process sendmail"
	cp "$W/conf.a" "$W/conf"
}

# leak_bundle N: the root of the test CA and some of the pool (which
# ones depends on N), replaced atomically.
leak_bundle()
{
	{
		cat "$W/pki/root.pem"
		i=1
		while [ "$i" -le 12 ]; do
			[ $(((i + $1) % 3)) -eq 0 ] || cat "$W/pool$i.pem"
			i=$((i + 1))
		done
	} >"$W/bundle.tmp"
	mv "$W/bundle.tmp" "$W/bundle.pem"
}

# leak_run PASSES: drives the daemon ($D_PID) through PASSES passes.
leak_run()
{
	step=0
	while [ "$(daemon_status 2)" -lt "$1" ]; do
		step=$((step + 1))
		n=$(daemon_status 2)
		case $((step % 8)) in
		0|1)	kill -USR1 "$D_PID" ;;
		2)	leak_bundle "$step" ;;
		3)	ts=$((ts + 1))
			daemon_renew "$W/le/certs/mail.example.test" "$W/pki" \
			    $((step % 3 + 1)) "$ts" ;;
		4)	if cmp -s "$W/conf" "$W/conf.a"; then
				cp "$W/conf.b" "$W/conf.tmp"
			else
				cp "$W/conf.a" "$W/conf.tmp"
			fi
			mv "$W/conf.tmp" "$W/conf"
			kill -HUP "$D_PID" ;;
		5)	# A broken file: reported, the old one kept, no pass.
			cp "$W/conf" "$W/conf.good"
			echo "settle soon" >>"$W/conf"
			_k=$(daemon_count 'keeping the configuration in use')
			kill -HUP "$D_PID"
			daemon_wait "$D_DEADLINE" \
			    "the broken configuration refused" daemon_logged \
			    $((_k + 1)) 'keeping the configuration'
			mv "$W/conf.good" "$W/conf"
			continue ;;
		6)	rm -f "$W/aux/dh.param"
			kill -USR1 "$D_PID" ;;
		7)	kill -USR1 "$D_PID" ;;
		esac
		daemon_wait "$D_DEADLINE" "pass $((n + 1)) (step $step)" \
		    daemon_passed $((n + 1))
		daemon_alive "$D_PID" ||
		    { daemon_show; atf_fail "smtlsd died at step $step"; }
	done
}

atf_test_case passes cleanup
passes_head()
{
	atf_set descr "The daemon runs ${LEAK_PASSES:-100} passes (SIGUSR1," \
	    "bundle changes, renewals, SIGHUP reloads) with no leak and no" \
	    "memory error: under valgrind, or under LeakSanitizer when it is" \
	    "built with SANITIZE=1 (valgrind cannot run ASan programs)"
	atf_set require.progs "openssl"
	atf_set timeout 3600
}
passes_body()
{
	t_copy_bin
	if grep -q __asan_init "$SMTLSD" 2>/dev/null; then
		tool=LeakSanitizer
		# Leaks are reported when smtlsd exits after SIGTERM.
		ASAN_OPTIONS="detect_leaks=1:log_path=$(pwd)/asan"
		export ASAN_OPTIONS
		set -- "$SMTLSD"
	else
		tool=valgrind
		command -v valgrind >/dev/null 2>&1 ||
		    atf_skip "valgrind is not installed (sh mk/deps.sh test)"
		set -- valgrind --tool=memcheck --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect \
		    --show-leak-kinds=definite,indirect --error-exitcode=99 \
		    --child-silent-after-fork=yes --log-file="$(pwd)/vg.log" \
		    "$SMTLSD"
	fi
	leak_setup
	D_DEADLINE=60
	t0=$(daemon_ms)
	"$@" -d -v -f "$W/conf" >>daemon.out 2>>daemon.log &
	D_PID=$!
	daemon_remember "$D_PID"
	daemon_wait 120 "the first pass under $tool" daemon_passed 1
	leak_run "$LEAK_PASSES"
	passes=$(daemon_status 2)
	kill -TERM "$D_PID"
	daemon_wait 120 "smtlsd to exit under $tool" daemon_dead "$D_PID"
	rc=0
	wait "$D_PID" || rc=$?
	secs=$((($(daemon_ms) - t0) / 1000))
	if [ "$tool" = LeakSanitizer ]; then
		if [ "$rc" -ne 0 ] || ls asan.* >/dev/null 2>&1; then
			cat asan.* >&2 2>/dev/null
			atf_fail "LeakSanitizer reports leaks or errors" \
			    "(exit $rc) after $passes passes"
		fi
	else
		sed -n '/HEAP SUMMARY/,$p' vg.log | sed 's/^==[0-9]*== //'
		if [ "$rc" -ne 0 ]; then
			cat vg.log >&2
			atf_fail "valgrind reports leaks or errors (exit $rc)" \
			    "after $passes passes"
		fi
		grep -q 'ERROR SUMMARY: 0 errors' vg.log ||
		    { cat vg.log >&2; atf_fail "valgrind reports errors"; }
		grep -Eq 'definitely lost: 0 bytes|no leaks are possible' \
		    vg.log || { cat vg.log >&2; atf_fail "valgrind reports" \
		    "a definite leak"; }
	fi
	echo "$passes passes under $tool in $secs s: no leak, no error;" \
	    "renewals acted on: $(daemon_count 'reload_command .* done')," \
	    "configurations re-read: $(daemon_count 'SIGHUP: re-reading')" |
	    tee summary
}
passes_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case passes
}
