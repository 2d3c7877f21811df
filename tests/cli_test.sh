#! /usr/bin/env atf-sh
# The command line: usage, -n (configuration check), -f, exit codes of
# -1 and -N (issue 2, "The command line" and "The configuration file").

. "$(atf_get_srcdir)/lib.sh"

atf_test_case usage
usage_head()
{
	atf_set descr "-h and bad arguments print the usage with every flag" \
	    "and exit 2"
}
usage_body()
{
	t_need_bin
	for args in "-h" "-x" "-1 -N" "-n -1" "-C -1" "-n extra" "-f"; do
		# shellcheck disable=SC2086
		atf_check -s exit:2 -o empty \
		    -e match:'^usage: smtlsd \[-CdhnNRv1\] \[-f file\]' \
		    -e 'match:^  -f ' -e 'match:^  -d ' -e 'match:^  -n ' \
		    -e 'match:^  -C ' -e 'match:^  -1 ' -e 'match:^  -N ' \
		    -e 'match:^  -R ' -e 'match:^  -v ' "$SMTLSD" $args
	done
}

atf_test_case check_valid
check_valid_head()
{
	atf_set descr "-n on a valid file exits 0, says so, writes nothing"
}
check_valid_body()
{
	t_need_bin
	cat >good.conf <<EOF
# a full configuration
ca_bundle $(pwd)/nowhere.crt	# need not exist for -n
cert_dir "$(pwd)/no such dir"
settle 0.3
watch poll
poll_interval 1
dh_bits 4096
dh_params_source ffdhe3072
reload_signal USR2
reload_command "/usr/sbin/service sendmail reload"
reload_timeout 10
EOF
	chmod 644 good.conf
	mkdir snap
	find . | grep -v '^\./snap' | sort >snap/before
	# Errors go to stderr only, nothing to stdout.
	atf_check -o empty -e match:'good\.conf: configuration OK' \
	    "$SMTLSD" -n -f good.conf
	find . | grep -v '^\./snap' | sort | cmp -s - snap/before ||
	    atf_fail "-n created files"
}

atf_test_case check_invalid
check_invalid_head()
{
	atf_set descr "-n reports every unknown keyword and bad value as" \
	    "file:line: message and exits 1"
}
check_invalid_body()
{
	t_need_bin
	cat >bad.conf <<EOF
cert_dir /etc/mail/certs
certdir /etc/mail/certs
settle soon
# comment

dh_bits 100000
ca_bundle relative.crt
watch magic
reload_signal KILL
cert_dir "/unterminated
EOF
	chmod 644 bad.conf
	atf_check -s exit:1 -o empty \
	    -e match:'^smtlsd: bad\.conf:2: unknown keyword "certdir"' \
	    -e match:'^smtlsd: bad\.conf:3: settle: "soon"' \
	    -e match:'^smtlsd: bad\.conf:6: dh_bits: "100000"' \
	    -e match:'^smtlsd: bad\.conf:7: ca_bundle: "relative\.crt" is not' \
	    -e match:'^smtlsd: bad\.conf:8: watch: "magic"' \
	    -e match:'^smtlsd: bad\.conf:9: reload_signal: "KILL"' \
	    -e match:'^smtlsd: bad\.conf:10: unterminated quote' \
	    -e match:'bad\.conf: 7 errors' \
	    "$SMTLSD" -n -f bad.conf
	# The same for -1: a bad file never starts a pass.
	atf_check -s exit:1 -o empty \
	    -e match:'^smtlsd: bad\.conf:2: unknown keyword' \
	    -e not-match:'certificates' "$SMTLSD" -1 -f bad.conf
}

atf_test_case check_writable
check_writable_head()
{
	atf_set descr "A configuration writable by group or others is" \
	    "refused with the path and the mode; 0644 and 0600 are fine"
}
check_writable_body()
{
	t_need_bin
	echo "cert_dir /etc/mail/certs" >c.conf
	for mode in 664 646 666 620 602; do
		chmod $mode c.conf
		atf_check -s exit:1 -o empty -e match:"c\\.conf: writable by \
group or others \\(mode 0$mode\\)" "$SMTLSD" -n -f c.conf
	done
	for mode in 644 600 400; do
		chmod $mode c.conf
		atf_check -o empty -e match:'configuration OK' \
		    "$SMTLSD" -n -f c.conf
	done
}

atf_test_case check_missing
check_missing_head()
{
	atf_set descr "-f with a missing file, a directory: message naming" \
	    "it, exit 1"
}
check_missing_body()
{
	t_need_bin
	atf_check -s exit:1 -o empty \
	    -e match:'nonexistent\.conf: No such file' \
	    "$SMTLSD" -n -f "$(pwd)/nonexistent.conf"
	mkdir d.conf
	atf_check -s exit:1 -o empty -e match:'d\.conf: not a regular file' \
	    "$SMTLSD" -n -f d.conf
}

atf_test_case check_defaults
check_defaults_head()
{
	atf_set descr "-n -v prints the effective configuration: every" \
	    "keyword, with the platform's defaults"
}
check_defaults_body()
{
	t_need_bin
	echo "# empty" >e.conf
	chmod 644 e.conf
	atf_check -o save:out "$SMTLSD" -n -v -f e.conf
	case $(uname -s) in
	Linux)
		bundle=/etc/ssl/certs/ca-certificates.crt
		acme=/var/lib/dehydrated/certs
		smpid=/run/sendmail/mta/sendmail.pid ;;
	*)
		bundle=/usr/local/share/certs/ca-root-nss.crt
		acme=/usr/local/etc/dehydrated/certs
		smpid=/var/run/sendmail.pid ;;
	esac
	cat >want <<EOF
ca_bundle $bundle
cert_dir /etc/mail/certs
pidfile /var/run/smtlsd.pid
status_file /var/run/smtlsd.status
acme_dir $acme
settle 2.000
settle_max 30.000
max_domains 100
expiry_warn 14
watch auto
poll_interval 5.000
dh_params /etc/mail/certs/dh.param
dh_bits 2048
dh_params_source generate
reload_pidfile $smpid
reload_process sendmail
reload_signal HUP
reload_command none
reload_timeout 60.000
verify_smtp 127.0.0.1:25
sendmail_cf /etc/mail/sendmail.cf
sendmail_path /usr/sbin/sendmail
EOF
	# reload_command may be printed quoted or not.
	sed 's/^reload_command "none"$/reload_command none/' out >got
	if ! cmp -s want got; then
		diff -u want got >&2
		atf_fail "-n -v does not print the defaults"
	fi
	# Without -f, a missing default file means the defaults.
	for f in /etc/smtlsd.conf /usr/local/etc/smtlsd.conf; do
		[ ! -e $f ] || atf_skip "$f exists on this machine"
	done
	atf_check -o save:out -e ignore "$SMTLSD" -n -v
	sed 's/^reload_command "none"$/reload_command none/' out >got
	cmp -s want got || atf_fail "defaults differ without a file"
}

atf_test_case check_roundtrip
check_roundtrip_head()
{
	atf_set descr "Quoted values (blanks, quotes, backslashes, #) are" \
	    "read, and -n -v prints a file that loads to the same values"
}
check_roundtrip_body()
{
	t_need_bin
	cat >q.conf <<'EOF'
cert_dir "/srv/mail certs"   # a directory with a blank
ca_bundle "/b/with#hash.crt"
ca_bundle /b/plain.crt
ca_bundle "/b/tight.crt"# comment
reload_command "/bin/sh -c \"kill -HUP `cat /p`\" \\ # not a comment"
acme_cert "/d/ex ample"
settle 0.25
EOF
	chmod 644 q.conf
	atf_check -o save:dump1 "$SMTLSD" -n -v -f q.conf
	grep -q '^cert_dir "/srv/mail certs"$' dump1 ||
	    { cat dump1; atf_fail "cert_dir with a blank not quoted"; }
	grep -q '^dh_params "/srv/mail certs/dh.param"$' dump1 ||
	    atf_fail "dh_params does not follow cert_dir"
	[ "$(grep -c '^ca_bundle ' dump1)" -eq 3 ] ||
	    atf_fail "expected 3 ca_bundle lines"
	grep -q '^settle 0.250$' dump1 || atf_fail "settle 0.25 lost"
	cp dump1 q2.conf
	chmod 644 q2.conf
	# The dump loads, to the same configuration.
	atf_check -o file:dump1 "$SMTLSD" -n -v -f q2.conf
}

atf_test_case once_exit_status
once_exit_status_head()
{
	atf_set descr "-1 exits 0 when the pass succeeded and 1 with a" \
	    "reason when it failed; -N likewise"
	atf_set require.progs "openssl"
}
once_exit_status_body()
{
	t_need_bin
	t_cert A "/CN=Alpha"
	mkdir certs
	t_conf ok.conf "$(pwd)/certs" "$(pwd)/A.pem"
	atf_check -o ignore -e ignore "$SMTLSD" -1 -f ok.conf
	atf_check -o ignore -e ignore "$SMTLSD" -N -f ok.conf
	t_conf bad.conf "$(pwd)/certs" "$(pwd)/missing.pem"
	atf_check -s exit:1 -o ignore -e match:'pass failed: .*missing\.pem' \
	    "$SMTLSD" -1 -f bad.conf
	atf_check -s exit:1 -o ignore -e ignore "$SMTLSD" -N -f bad.conf
}

atf_init_test_cases()
{
	atf_add_test_case usage
	atf_add_test_case check_valid
	atf_add_test_case check_invalid
	atf_add_test_case check_writable
	atf_add_test_case check_missing
	atf_add_test_case check_defaults
	atf_add_test_case check_roundtrip
	atf_add_test_case once_exit_status
}
