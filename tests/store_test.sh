#! /usr/bin/env atf-sh
# shellcheck disable=SC2010,SC2015
# (ls | grep on names the tests made; "[ test ] && ... || atf_fail".)
#
# The CA store: one pass of smtlsd over CA bundles into cert_dir
# (issue 2, "One pass over the CA store", points 1 to 8).

. "$(atf_get_srcdir)/lib.sh"

# A store with three hashes: A; B1 B2 B3 (one subject, three keys);
# C1 C2 (another shared subject).  Makes a.crt holding them all, with C1
# repeated (an exact duplicate), and the configuration conf.
mkstore()
{
	t_cert A "/O=smtlsd test/CN=Alpha CA"
	t_cert B1 "/O=smtlsd test/CN=Shared B"
	t_cert B2 "/O=smtlsd test/CN=Shared B"
	t_cert B3 "/O=smtlsd test/CN=Shared B"
	t_cert C1 "/CN=Shared C"
	t_cert C2 "/CN=Shared C"
	t_bundle a.crt A B1 C1 B2 C1 B3 C2
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
}

# ------------------------------------------------------------- point 3

atf_test_case rehash_system
rehash_system_head()
{
	atf_set descr "On the system CA bundle the store has the names and" \
	    "per-hash sets openssl rehash makes of the split bundle"
	atf_set require.progs "openssl awk"
}
rehash_system_body()
{
	t_need_bin
	bundle=/etc/ssl/certs/ca-certificates.crt
	[ -f "$bundle" ] || bundle=/usr/local/share/certs/ca-root-nss.crt
	[ -f "$bundle" ] || atf_skip "no system CA bundle here"
	mkdir certs
	t_conf conf "$(pwd)/certs" "$bundle"
	t_pass conf
	t_same_as_rehash certs "$bundle"
	t_check_files certs
	n=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$bundle")
	[ "$(t_names certs | wc -l)" -ge $((n * 9 / 10)) ] ||
	    atf_fail "far fewer files than certificates in $bundle"
}

atf_test_case rehash_collisions
rehash_collisions_head()
{
	atf_set descr "Hash collisions and exact duplicates give the names" \
	    "and per-hash sets of openssl rehash; files are 0644, one" \
	    "certificate each, named by openssl x509 -hash"
	atf_set require.progs "openssl awk"
}
rehash_collisions_body()
{
	t_need_bin
	mkstore
	umask 077	# smtlsd's files are 0644 whatever the umask
	t_pass conf
	t_same_as_rehash certs a.crt
	t_check_files certs
	hb=$(t_hash B1)
	hc=$(t_hash C1)
	for f in "$hb.0" "$hb.1" "$hb.2" "$hc.0" "$hc.1" "$(t_hash A).0"; do
		[ -f "certs/$f" ] || atf_fail "certs/$f is missing"
	done
	[ "$(t_names certs | wc -l)" -eq 6 ] ||
	    atf_fail "expected 6 files: $(t_names certs | tr '\n' ' ')"
	t_err_has '1 duplicates dropped'
	t_err_has '2 hashes shared'
}

atf_test_case rehash_several_bundles
rehash_several_bundles_head()
{
	atf_set descr "Several ca_bundle lines and single PEM files are" \
	    "merged: duplicates across files appear once"
	atf_set require.progs "openssl awk"
}
rehash_several_bundles_body()
{
	t_need_bin
	mkstore
	t_cert D "/CN=Delta"
	t_bundle b.crt C2 D A
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt" "$(pwd)/b.crt" \
	    "$(pwd)/D.pem"
	t_pass conf
	t_same_as_rehash certs a.crt b.crt D.pem
	[ "$(t_names certs | wc -l)" -eq 7 ] || atf_fail "expected 7 files"
}

# ------------------------------------------------------------- point 1

atf_test_case freebsd_nss
freebsd_nss_head()
{
	atf_set descr "A bundle shaped like FreeBSD's ca-root-nss.crt (##" \
	    "header, text dump and fingerprint before each block) is read" \
	    "completely, and the text is not copied"
	atf_set require.progs "openssl awk"
}
freebsd_nss_body()
{
	t_need_bin
	mkstore
	t_nss ca-root-nss.crt A B1 C1 B2 C1 B3 C2
	grep -q '^        Version: 3' ca-root-nss.crt ||
	    atf_fail "the generated dump has no text"
	t_conf conf "$(pwd)/certs" "$(pwd)/ca-root-nss.crt"
	t_pass conf
	t_same_as_rehash certs a.crt
	t_check_files certs
	if grep -rl -e 'Fingerprint' -e 'Version:' -e '^##' certs; then
		atf_fail "text between the blocks was copied into the store"
	fi
}

atf_test_case trusted_certificate
trusted_certificate_head()
{
	atf_set descr "TRUSTED CERTIFICATE blocks are read, named like" \
	    "openssl rehash names them and kept with their trust settings"
	atf_set require.progs "openssl awk"
}
trusted_certificate_body()
{
	t_need_bin
	t_cert T "/CN=Trusted one"
	t_cert P "/CN=Plain one"
	openssl x509 -in T.pem -trustout -addtrust serverAuth -out T.tr ||
	    atf_fail "openssl x509 -trustout"
	grep -q 'BEGIN TRUSTED CERTIFICATE' T.tr || atf_fail "no trusted PEM"
	cat T.tr P.pem >a.crt
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass conf
	t_same_as_rehash certs a.crt
	f="certs/$(t_hash T).0"
	openssl x509 -in "$f" -noout -text -trustout | grep -q 'TLS Web Server' ||
	    atf_fail "$f lost the trust settings"
	openssl verify -CApath certs P.pem >verify.out 2>&1 ||
	    { cat verify.out; atf_fail "openssl verify -CApath fails"; }
}

atf_test_case trust_change
trust_change_head()
{
	atf_set descr "A change of a certificate's trust settings alone" \
	    "(CERTIFICATE to TRUSTED CERTIFICATE rejecting serverAuth, and" \
	    "back) rewrites its file, with the index in place"
	atf_set require.progs "openssl awk"
}
trust_change_body()
{
	t_need_bin
	t_cert T "/CN=Trust changes"
	t_cert P "/CN=Plain one"
	openssl x509 -in T.pem -trustout -addreject serverAuth -out T.rej ||
	    atf_fail "openssl x509 -trustout"
	cat T.pem P.pem >a.crt
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass conf
	f="certs/$(t_hash T).0"
	[ -f certs/.smtlsd.index ] || atf_fail "no index"
	cat T.rej P.pem >a.crt
	t_pass_says conf '0 added, 1 replaced, 0 removed, 1 unchanged'
	t_same_as_rehash certs a.crt
	openssl x509 -in "$f" -noout -text -trustout |
	    grep -q 'Rejected Uses' || atf_fail "$f lost the reject"
	# A second pass keeps it; and back to plain.
	t_pass_says conf '0 added, 0 replaced, 0 removed, 2 unchanged'
	cat T.pem P.pem >a.crt
	t_pass_says conf '0 added, 1 replaced, 0 removed, 1 unchanged'
	t_same_as_rehash certs a.crt
	openssl x509 -in "$f" -noout -text -trustout |
	    grep -q 'Rejected Uses' && atf_fail "$f still rejects serverAuth"
	# Another reject (the same certificate, other trust settings).
	openssl x509 -in T.pem -trustout -addreject clientAuth -out T.rej2 ||
	    atf_fail "openssl x509 -trustout"
	cat T.rej P.pem >a.crt
	t_pass conf
	cat T.rej2 P.pem >a.crt
	t_pass_says conf '0 added, 1 replaced, 0 removed, 1 unchanged'
	t_same_as_rehash certs a.crt
	# An index of the old format is no index: rebuilt from the files.
	sed -i '1s/.*/smtlsd-index 3/' certs/.smtlsd.index
	cat T.rej P.pem >a.crt
	t_pass_says conf '0 added, 1 replaced, 0 removed, 1 unchanged'
	t_same_as_rehash certs a.crt
}

atf_test_case utf8_bom
utf8_bom_head()
{
	atf_set descr "A UTF-8 byte order mark before the first block (as" \
	    "Windows editors write one) is skipped, as OpenSSL skips it"
	atf_set require.progs "openssl awk"
}
utf8_bom_body()
{
	t_need_bin
	t_cert A "/CN=First CA"
	t_cert P "/CN=Plain one"
	t_bundle ref.crt A P
	printf '\357\273\277' >a.crt
	cat ref.crt >>a.crt
	openssl x509 -in a.crt -noout || atf_fail "openssl refuses the BOM"
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass conf
	t_same_as_rehash certs ref.crt
}

atf_test_case x509_certificate_label
x509_certificate_label_head()
{
	atf_set descr "Blocks labelled X509 CERTIFICATE (the old label" \
	    "OpenSSL's PEM reader accepts) are read like CERTIFICATE ones"
	atf_set require.progs "openssl awk"
}
x509_certificate_label_body()
{
	t_need_bin
	t_cert A "/CN=Old label"
	t_cert P "/CN=Plain one"
	sed 's/^-----\(BEGIN\|END\) CERTIFICATE-----$/-----\1 X509 CERTIFICATE-----/' \
	    A.pem >A.old
	grep -q 'BEGIN X509 CERTIFICATE' A.old || atf_fail "no old label"
	openssl x509 -in A.old -noout || atf_fail "openssl refuses A.old"
	cat A.old P.pem >a.crt
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass conf
	t_same_as_rehash certs a.crt
	openssl verify -CApath certs A.pem >v.out 2>&1 ||
	    { cat v.out; atf_fail "A does not verify"; }
}

atf_test_case pem_refused
pem_refused_head()
{
	atf_set descr "Blocks OpenSSL's PEM reader refuses (a blank line" \
	    "inside the base64, text after the BEGIN or END line, a header" \
	    "line) are refused too, naming file:line and the rule broken"
	atf_set require.progs "openssl awk"
}
pem_refused_body()
{
	t_need_bin
	t_cert A "/CN=Refused one"
	t_cert P "/CN=Plain one"
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	refused()
	{
		openssl x509 -in A.bad -noout 2>/dev/null &&
		    atf_fail "openssl reads A.bad ($1)"
		cat P.pem A.bad >a.crt
		t_pass_fails conf "a.crt:$2: $1"
		[ "$(t_names certs)" = "$(t_hash P).0" ] ||
		    atf_fail "A was added: $(t_names certs | tr '\n' ' ')"
	}
	p=$(wc -l <P.pem)
	awk 'NR == 4 { print "" } 1' A.pem >A.bad
	refused "a blank line inside the base64" $((p + 4))
	awk 'NR == 4 { print "   " } 1' A.pem >A.bad
	refused "a blank line inside the base64" $((p + 4))
	sed '1s/$/ junk/' A.pem >A.bad
	refused "text after -----BEGIN CERTIFICATE----- on its line" $((p + 1))
	sed '$s/$/ junk/' A.pem >A.bad
	refused "text after -----END CERTIFICATE----- on its line" \
	    $((p + $(wc -l <A.pem)))
	awk 'NR == 2 { print "Comment: hello" } 1' A.pem >A.bad
	refused "a header line" $((p + 2))
	# What OpenSSL takes: trailing blanks, CRLF, a blank line right
	# after BEGIN with 64-column lines.
	sed 's/$/  \r/' A.pem | awk 'NR == 2 { print "" } 1' >A.ok
	openssl x509 -in A.ok -noout || atf_fail "openssl refuses A.ok"
	cat P.pem A.ok >a.crt
	t_pass conf
	t_same_as_rehash certs P.pem A.pem
}

atf_test_case pem_accepted
pem_accepted_head()
{
	atf_set descr "Blocks OpenSSL's PEM reader accepts are accepted: a" \
	    "CERTIFICATE block with trust settings after the certificate" \
	    "(kept, as OpenSSL's CApath lookup reads them), DER with other" \
	    "bytes after the certificate (the certificate is kept)"
	atf_set require.progs "openssl awk base64"
}
pem_accepted_body()
{
	t_need_bin
	t_cert T "/CN=Trust under the plain label"
	t_cert G "/CN=Trailing bytes"
	t_cert P "/CN=Plain one"
	openssl x509 -in T.pem -trustout -addreject serverAuth |
	    sed 's/TRUSTED CERTIFICATE/CERTIFICATE/' >T.aux
	openssl x509 -in T.aux -noout -text -trustout | grep -q Rejected ||
	    atf_fail "openssl does not read the trust settings of T.aux"
	openssl x509 -in G.pem -outform DER -out G.der
	{
		echo "-----BEGIN CERTIFICATE-----"
		{ cat G.der; printf '\005\000'; } | base64 -w 64
		echo "-----END CERTIFICATE-----"
	} >G.tail
	openssl x509 -in G.tail -noout || atf_fail "openssl refuses G.tail"
	cat T.aux G.tail P.pem >a.crt
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass conf
	# The names of rehash; T with its trust settings, as rehash has it.
	t_same_as_rehash certs T.aux P.pem G.pem
	openssl x509 -in "certs/$(t_hash T).0" -noout -text -trustout |
	    grep -q 'Rejected Uses' || atf_fail "T lost its trust settings"
	# G without the bytes that would make OpenSSL's lookup fail.
	openssl verify -CApath certs G.pem >v.out 2>&1 ||
	    { cat v.out; atf_fail "G does not verify through certs"; }
	t_pass_says conf '0 added, 0 replaced, 0 removed, 3 unchanged'
}

atf_test_case crl_said
crl_said_head()
{
	atf_set descr "A CRL in a bundle, which smtlsd does not copy, is" \
	    "said at the default level, naming file:line"
	atf_set require.progs "openssl"
}
crl_said_body()
{
	t_need_bin
	t_cert A "/CN=CRL issuer"
	mkdir db certs
	: >db/index.txt
	echo 01 >db/serial
	openssl ca -batch -config "$T_SRC/pki.cnf" -gencrl \
	    -crldays 30 -cert A.pem -keyfile A.key -out A.crl >/dev/null 2>&1 ||
	    atf_fail "openssl ca -gencrl"
	grep -q 'BEGIN X509 CRL' A.crl || atf_fail "no CRL"
	cat A.pem A.crl >a.crt
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass_says conf "a.crt:$(($(wc -l <A.pem) + 1)): a CRL .*not copied"
	t_same_as_rehash certs A.pem
}

# ------------------------------------------------------------- point 2

atf_test_case stable_numbering
stable_numbering_head()
{
	atf_set descr "Collision members keep their numbers from pass to" \
	    "pass: a new member after them in the bundle takes the next" \
	    "number, nothing is renamed"
	atf_set require.progs "openssl"
}
stable_numbering_body()
{
	t_need_bin
	mkstore
	t_pass conf
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index >before
	t_cert B4 "/O=smtlsd test/CN=Shared B"
	t_bundle a.crt A B1 C1 B2 C1 B3 C2 B4
	t_pass conf
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index >after
	hb=$(t_hash B1)
	grep -v "^$hb.3 " after >after.old
	if ! cmp -s before after.old; then
		diff -u before after.old >&2
		atf_fail "existing files were touched when a member was added"
	fi
	cmp -s B4.pem "certs/$hb.3" || tail -n +2 "certs/$hb.3" |
	    cmp -s - B4.pem || atf_fail "$hb.3 does not hold the new member"
	t_same_as_rehash certs a.crt
}

atf_test_case bundle_order
bundle_order_head()
{
	atf_set descr "Certificates sharing a hash are numbered in bundle" \
	    "order (bundles in configuration order), as openssl rehash of" \
	    "the split bundle numbers them; reordering the bundle renumbers" \
	    "them, and an unchanged bundle keeps them"
	atf_set require.progs "openssl awk"
}
bundle_order_body()
{
	t_need_bin
	mkstore
	t_bundle a.crt A B3 C2 B1 C1 B2
	t_pass conf
	t_same_slots_as_rehash certs a.crt
	hb=$(t_hash B1)
	[ "$(t_slot certs B3)" = "$hb.0" ] || atf_fail "B3 is not $hb.0"
	t_bundle a.crt A B1 C1 B2 B3 C2
	t_pass conf
	t_same_slots_as_rehash certs a.crt
	t_pass_says conf '0 added, 0 replaced, 0 removed, 6 unchanged'
	# Two bundles: the first one's certificates first.
	t_bundle b.crt B3 C1
	t_bundle a.crt A B2 C2 B1
	t_conf conf "$(pwd)/certs" "$(pwd)/b.crt" "$(pwd)/a.crt"
	t_pass conf
	t_same_slots_as_rehash certs b.crt a.crt
	openssl verify -CApath certs B3.pem >v.out 2>&1 ||
	    { cat v.out; atf_fail "B3 does not verify"; }
}

atf_test_case gapless_collision
gapless_collision_head()
{
	atf_set descr "When collision members leave the bundle the numbers" \
	    "stay gapless from .0, and the members that stay are never" \
	    "missing"
	atf_set require.progs "openssl awk"
}
gapless_collision_body()
{
	t_need_bin
	mkstore
	t_pass conf
	hb=$(t_hash B1)
	# The one at .0 leaves: the one at .2 has to move down.
	# shellcheck disable=SC2046 # three names, split on purpose
	set -- $(t_members certs B1 B2 B3)
	t_bundle a.crt A "$2" "$3" C1 C2
	t_pass conf
	t_same_as_rehash certs a.crt
	[ ! -e "certs/$hb.2" ] || atf_fail "$hb.2 left behind: a gap follows"
	# The one in the middle leaves.
	t_bundle a.crt A B1 B2 B3 C1 C2
	t_pass conf
	# shellcheck disable=SC2046 # three names, split on purpose
	set -- $(t_members certs B1 B2 B3)
	t_bundle a.crt A "$1" C1 "$3" C2
	t_pass conf
	t_same_as_rehash certs a.crt
	[ ! -e "certs/$hb.2" ] || atf_fail "$hb.2 left behind: a gap follows"
	# The first one leaves: the one left is .0.
	t_bundle a.crt A "$3" C1 C2
	t_pass conf
	t_same_as_rehash certs a.crt
	[ -f "certs/$hb.0" ] && [ ! -e "certs/$hb.1" ] ||
	    atf_fail "expected $hb.0 alone: $(t_names certs | tr '\n' ' ')"
	openssl verify -CApath certs "$3.pem" >v.out 2>&1 ||
	    { cat v.out; atf_fail "$3 is not found through $hb.0"; }
	# And all of them go.
	t_bundle a.crt A
	t_pass conf
	t_same_as_rehash certs a.crt
	[ "$(t_names certs)" = "$(t_hash A).0" ] ||
	    atf_fail "stale files left: $(t_names certs | tr '\n' ' ')"
}

# ------------------------------------------------------------- point 4

atf_test_case second_pass_changes_nothing
second_pass_changes_nothing_head()
{
	atf_set descr "A second pass over an unchanged bundle changes" \
	    "nothing in cert_dir, the index and the directory included"
	atf_set require.progs "openssl"
}
second_pass_changes_nothing_body()
{
	t_need_bin
	mkstore
	: >certs/host.cert
	t_pass conf
	[ -f certs/.smtlsd.index ] || atf_fail "no index written"
	t_listing certs >first
	t_pass conf
	t_listing certs >second
	if ! cmp -s first second; then
		diff -u first second >&2
		atf_fail "the second pass changed cert_dir"
	fi
	t_err_has '0 added, 0 replaced, 0 removed, 6 unchanged'
	# Without the index (a cache) the files are still recognised as
	# ours and right: the certificates are not rewritten.
	rm certs/.smtlsd.index
	t_listing certs | grep -v '^\. ' >first
	t_pass conf
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index >second
	if ! cmp -s first second; then
		diff -u first second >&2
		atf_fail "losing the index made smtlsd rewrite files"
	fi
	[ -f certs/.smtlsd.index ] || atf_fail "the index was not rewritten"
}

atf_test_case unchanged_files_kept
unchanged_files_kept_head()
{
	atf_set descr "When the bundle changes, files already right keep" \
	    "their inode and mtime; a damaged file of ours, or one whose" \
	    "mode is no longer 0644, is rewritten"
	atf_set require.progs "openssl"
}
unchanged_files_kept_body()
{
	t_need_bin
	mkstore
	t_pass conf
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index >before
	t_cert D "/CN=Delta"
	t_bundle a.crt A B1 C1 B2 C1 B3 C2 D
	t_pass_says conf '1 added, 0 replaced, 0 removed, 6 unchanged'
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index |
	    grep -v "^$(t_hash D).0 " >after
	if ! cmp -s before after; then
		diff -u before after >&2
		atf_fail "files already right were touched"
	fi
	# One of ours damaged (same size, same header): rewritten.
	f="certs/$(t_hash A).0"
	sed 's/^MII/MIJ/' "$f" >x && cat x >"$f"
	t_pass_says conf '0 added, 1 replaced, 0 removed'
	t_same_as_rehash certs a.crt
	# One of ours made unreadable to others (chmod): 0644 again.
	chmod 600 "$f"
	t_pass_says conf '0 added, 1 replaced, 0 removed'
	t_check_files certs
}

atf_test_case unchanged_pass_reads_no_cert
unchanged_pass_reads_no_cert_head()
{
	atf_set descr "A pass over an unchanged bundle opens none of the" \
	    "certificate files (the index vouches for them)"
	atf_set require.progs "openssl strace"
}
unchanged_pass_reads_no_cert_body()
{
	t_need_bin
	daemon_need_strace
	mkstore
	t_pass conf
	# (LeakSanitizer cannot work under ptrace: SANITIZE=1 builds.)
	ASAN_OPTIONS=detect_leaks=0 \
	    strace -f -e trace=open,openat -o trace "$SMTLSD" -f conf -1 \
	    2>err || atf_fail "second pass failed"
	if grep -E '"[^"]*/?[0-9a-f]{8}\.[0-9]+"' trace; then
		atf_fail "the pass opened certificate files"
	fi
}

atf_test_case adds_before_removes
adds_before_removes_head()
{
	atf_set descr "Every new or renumbered file is in place before any" \
	    "stale file is removed; temporary files are created with" \
	    "O_CREAT|O_EXCL|O_NOFOLLOW in cert_dir and flushed to disk" \
	    "before they are renamed"
	atf_set require.progs "openssl strace"
}
adds_before_removes_body()
{
	t_need_bin
	daemon_need_strace
	mkstore
	t_pass conf
	# The B at .0 leaves (the one at .2 moves to .0), C1 leaves, D
	# arrives, A leaves.
	# shellcheck disable=SC2046 # three names, split on purpose
	set -- $(t_members certs B1 B2 B3)
	t_cert D "/CN=Delta"
	t_bundle a.crt D "$2" "$3" C2
	calls=open,openat,link,linkat,rename,renameat,renameat2,unlink,unlinkat
	calls=$calls,fsync,fdatasync,syncfs
	ASAN_OPTIONS=detect_leaks=0 strace -f -o trace -e trace=$calls \
	    "$SMTLSD" -f conf -1 2>err || { cat err; atf_fail "pass failed"; }
	t_same_as_rehash certs a.crt
	# The calls that create and delete names, in order.
	grep -E 'link|rename|unlink|O_CREAT|sync' trace | grep -v ENOENT >calls
	hre='"[0-9a-f]{8}\.[0-9]+"'
	grep -nE "(link|rename)(at2?)?\(.*$hre" calls | grep -v unlink |
	    cut -d: -f1 >puts
	grep -nE "unlink(at)?\(.*$hre" calls | cut -d: -f1 >removes
	[ "$(wc -l <puts)" -ge 2 ] && [ "$(wc -l <removes)" -ge 3 ] ||
	    { cat calls; atf_fail "expected 2 puts and 3 removals"; }
	grep -q 'rename.*"'"$(t_hash B1)"'\.0"' calls ||
	    { cat calls; atf_fail "no renumbering to .0 happened"; }
	[ "$(tail -1 puts)" -lt "$(head -1 removes)" ] ||
	    { cat calls; atf_fail "a name was put after a removal"; }
	# The new files are made durable before the first is put in place.
	first=$(head -1 puts)
	lastnew=$(grep -nE 'open(at)?\(.*smtlsd\.tmp.*O_CREAT' calls |
	    cut -d: -f1 | awk -v f="$first" '$1 < f' | tail -1)
	[ -n "$lastnew" ] || { cat calls; atf_fail "no temporary file"; }
	grep -nE '(fsync|fdatasync|syncfs)\(' calls | cut -d: -f1 |
	    awk -v a="$lastnew" -v b="$first" '$1 > a && $1 < b' | grep -q . ||
	    { cat calls; atf_fail "no fsync/syncfs before the first rename"; }
	grep -E 'open(at)?\(.*\.smtlsd\.tmp\..*O_CREAT' calls >creates ||
	    atf_fail "no temporary file was created"
	if grep -v 'O_EXCL' creates | grep . || grep -v 'O_NOFOLLOW' creates |
	    grep .; then
		atf_fail "a temporary file was created without O_EXCL|O_NOFOLLOW"
	fi
	if grep -E 'O_CREAT' calls | grep -v '\.smtlsd\.tmp\.'; then
		atf_fail "a file was created under a final name"
	fi
	ls -A certs | grep smtlsd.tmp && atf_fail "temporary files left"
	true
}

atf_test_case failed_put_no_removal
failed_put_no_removal_head()
{
	atf_set descr "When putting a file in place fails, nothing is" \
	    "removed, so a certificate that moves is never lost"
	atf_set require.progs "openssl strace"
}
failed_put_no_removal_body()
{
	t_need_bin
	daemon_need_strace
	strace -e inject=linkat:error=EEXIST -o /dev/null true 2>/dev/null ||
	    atf_skip "this strace cannot inject faults"
	mkstore
	t_pass conf
	# The B at .0 leaves: the one at .2 moves to .0, and every rename
	# and link fails as if a file had appeared under the name.
	# shellcheck disable=SC2046 # three names, split on purpose
	set -- $(t_members certs B1 B2 B3)
	t_bundle a.crt A "$2" "$3" C1 C2
	ASAN_OPTIONS=detect_leaks=0 \
	    strace -f -o trace -e trace=linkat,renameat,renameat2,rename,link \
	    -e inject=linkat,renameat,renameat2,rename,link:error=EEXIST \
	    "$SMTLSD" -f conf -1 >out 2>err && atf_fail "the pass succeeded"
	grep -q 'renameat.*EEXIST.*INJECTED' trace ||
	    { cat trace; atf_fail "no failure was injected"; }
	for n in "$2" "$3"; do
		openssl verify -CApath certs "$n.pem" >v.out 2>&1 ||
		    { cat err; ls -l certs; atf_fail "$n was lost"; }
	done
	true
}

atf_test_case changed_before_removal
changed_before_removal_head()
{
	atf_set descr "A stale file of ours that changes between the scan" \
	    "and its removal is left alone, and the pass says it failed;" \
	    "the next pass removes it"
	atf_set require.progs "openssl strace"
}
changed_before_removal_body()
{
	t_need_bin
	daemon_need_strace
	strace -e inject=fsync:delay_enter=1 -o /dev/null true 2>/dev/null ||
	    atf_skip "this strace cannot inject delays"
	t_cert A "/O=smtlsd test/CN=Alpha CA"
	t_cert D "/O=smtlsd test/CN=Delta CA"
	t_cert E "/O=smtlsd test/CN=Echo CA"
	mkdir certs
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_bundle a.crt A D
	t_pass conf
	d=certs/$(t_hash D).0
	e=certs/$(t_hash E).0
	# D leaves, E comes.  Every fsync(2) waits 3 s: the first is the
	# directory's, once E is in place and before D is removed.
	t_bundle a.crt A E
	ASAN_OPTIONS=detect_leaks=0 strace -f -o /dev/null -e trace=fsync \
	    -e inject=fsync:delay_enter=3000000 \
	    "$SMTLSD" -f conf -1 >out 2>err &
	pid=$!
	i=0
	until [ -f "$e" ]; do
		i=$((i + 1))
		[ "$i" -le 1000 ] || atf_fail "$e did not appear in 20 s"
		sleep 0.02
	done
	touch "$d"			# its ctime changes
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 1 ] || { cat err >&2; atf_fail "the pass exited $rc," \
	    "expected 1"; }
	t_err_has "$d: changed meanwhile; left alone"
	[ -f "$d" ] || atf_fail "$d was removed"
	t_pass conf
	[ ! -e "$d" ] || { cat err >&2; atf_fail "$d is still there"; }
	t_same_as_rehash certs a.crt
}

# ------------------------------------------------------------- point 5

# Makes the files an administrator has in /etc/mail/certs, and a
# foreign symlink and a foreign regular file under the hashes of A and
# B1 (FreeBSD's sendmail_cert_create links <hash>.0 to cacert.pem).
mkforeign()
{
	t_cert LOCAL "/O=smtlsd test/CN=Alpha CA"	# same hash as A
	echo "secret" >certs/host.key
	chmod 600 certs/host.key
	cp LOCAL.pem certs/host.cert
	cp LOCAL.pem certs/cacert.pem
	echo "not really DH" >certs/dh.param
	echo "admin notes" >certs/README
	mkdir certs/old
	echo outside >outside.pem
	ln -s cacert.pem "certs/$(t_hash A).0"
	cp B1.pem "certs/$(t_hash B1).0"		# an admin's copy
	ln -s "$(pwd)/outside.pem" "certs/$(t_hash C1).0"
	mkfifo "certs/$(t_hash C1).1"
	ln -s /nonexistent "certs/abcdef01.0"
}

atf_test_case foreign_untouched
foreign_untouched_head()
{
	atf_set descr "Files smtlsd did not write (host.key, host.cert," \
	    "cacert.pem, dh.param, admin files, hash-named links, files," \
	    "FIFOs) are never modified, followed or deleted; our" \
	    "certificates take the next free numbers; each foreign hash" \
	    "name is reported once"
	atf_set require.progs "openssl"
}
foreign_untouched_body()
{
	t_need_bin
	mkstore
	mkforeign
	ha=$(t_hash A)
	hb=$(t_hash B1)
	hc=$(t_hash C1)
	foreign="host.key host.cert cacert.pem dh.param README old $ha.0 \
	    $hb.0 $hc.0 $hc.1 abcdef01.0"
	snapshot()
	{
		t_listing certs >listing
		for f in $foreign; do
			grep "^$f " listing || echo "$f is gone"
			[ -f "certs/$f" ] && [ ! -L "certs/$f" ] &&
			    cksum "certs/$f"
		done
		t_listing . | grep '^outside.pem '
		cksum outside.pem
	}
	snapshot >before
	# The link to a file that is no certificate and the FIFO hide C1
	# and C2 from OpenSSL: the pass fails, naming them.
	t_pass_fails conf \
	    "certs/$hc.0: OpenSSL cannot load it \(not a PEM certificate\)" \
	    "certs/$hc.1: OpenSSL cannot load it \(not a regular file\)"
	snapshot >after
	if ! cmp -s before after; then
		diff -u before after >&2
		atf_fail "a foreign file was touched"
	fi
	# Ours moved up past the foreign names, gapless after them.
	for f in "$ha.1" "$hb.1" "$hb.2" "$hb.3" "$hc.2" "$hc.3"; do
		head -1 "certs/$f" | grep -q '^# smtlsd sha256:' ||
		    atf_fail "certs/$f is not ours"
	done
	[ ! -e "certs/$ha.2" ] && [ ! -e "certs/$hb.4" ] &&
	    [ ! -e "certs/$hc.4" ] || atf_fail "gaps or extra files"
	# One warning per foreign hash name, each once.
	for f in "$ha.0" "$hb.0" "$hc.0" "$hc.1" abcdef01.0; do
		[ "$(grep -c "certs/$f: not written by smtlsd" err)" -eq 1 ] ||
		    { cat err; atf_fail "$f not reported exactly once"; }
	done
	[ "$(grep -c 'not written by smtlsd' err)" -eq 5 ] ||
	    { cat err; atf_fail "other files were reported as foreign"; }
	# A second pass changes nothing, foreign files included.
	t_listing certs >first
	t_pass_fails conf
	t_listing certs >second
	cmp -s first second || { diff -u first second >&2;
	    atf_fail "second pass changed something"; }
	snapshot >after
	cmp -s before after || atf_fail "a foreign file was touched"
	# The CA store works behind foreign files that are certificates
	# (OpenSSL's lookup stops at a <hash>.N it cannot load, so C's
	# behind the FIFO and the link to a non-certificate are out of
	# reach: that is why the pass fails).
	for n in A B1 B2 B3; do
		openssl verify -CApath certs "$n.pem" >v.out 2>&1 ||
		    { cat v.out; atf_fail "$n does not verify"; }
	done
}

atf_test_case foreign_unloadable
foreign_unloadable_head()
{
	atf_set descr "A foreign entry OpenSSL cannot load (an empty file," \
	    "a dangling link, a directory) on a name before our" \
	    "certificates of that hash fails the pass, naming it and what" \
	    "to do, and is never touched; behind our files, it is only" \
	    "reported"
	atf_set require.progs "openssl awk"
}
foreign_unloadable_body()
{
	t_need_bin
	mkstore
	ha=$(t_hash A)
	hb=$(t_hash B1)
	: >"certs/$ha.0"
	ln -s /nonexistent "certs/$hb.1"
	t_pass_fails conf \
	    "certs/$ha.0: OpenSSL cannot load it \(an empty file\).*remove it" \
	    "certs/$hb.1: OpenSSL cannot load it \(a dangling link\)"
	[ -f "certs/$ha.0" ] && [ ! -s "certs/$ha.0" ] ||
	    atf_fail "certs/$ha.0 was touched"
	[ -L "certs/$hb.1" ] || atf_fail "certs/$hb.1 was touched"
	t_slot certs A >/dev/null
	# Every pass says it, not only the first.
	t_pass_fails conf "certs/$ha.0: OpenSSL cannot load it"
	rm "certs/$ha.0" "certs/$hb.1"
	mkdir "certs/$ha.0"
	t_pass_fails conf \
	    "certs/$ha.0: OpenSSL cannot load it \(not a regular file\)"
	rmdir "certs/$ha.0"
	t_pass conf
	t_same_as_rehash certs a.crt
	# After our numbers: OpenSSL finds ours first; reported, no failure.
	: >"certs/$ha.1"
	t_pass_says conf "certs/$ha.1: not written by smtlsd"
}

atf_test_case foreign_removed_renumbers
foreign_removed_renumbers_head()
{
	atf_set descr "When a foreign hash-named file goes away, our files" \
	    "take its number: numbering is gapless from .0 again"
	atf_set require.progs "openssl awk"
}
foreign_removed_renumbers_body()
{
	t_need_bin
	mkstore
	mkforeign
	t_pass_fails conf
	rm "certs/$(t_hash A).0" "certs/$(t_hash B1).0" "certs/$(t_hash C1).0" \
	    "certs/$(t_hash C1).1" certs/abcdef01.0
	t_pass conf
	t_same_as_rehash certs a.crt
	for f in host.key host.cert cacert.pem dh.param README old; do
		[ -e "certs/$f" ] || atf_fail "certs/$f was removed"
	done
}

atf_test_case taken_over
taken_over_head()
{
	atf_set descr "A file of ours that the administrator replaced by" \
	    "one without our header is no longer ours: left alone"
	atf_set require.progs "openssl"
}
taken_over_body()
{
	t_need_bin
	mkstore
	t_pass conf
	f="certs/$(t_hash A).0"
	cp A.pem x && mv x "$f"
	t_bundle a.crt B1 C1 B2 B3 C2		# A leaves the bundle
	t_pass conf
	[ -f "$f" ] || atf_fail "$f, no longer ours, was removed"
	head -1 "$f" | grep -q '^-----BEGIN' || atf_fail "$f was rewritten"
}

atf_test_case overwritten_in_place
overwritten_in_place_head()
{
	atf_set descr "A file of ours that the administrator overwrote in" \
	    "place (same inode, same size, mtime put back) is no longer" \
	    "ours: never removed or rewritten"
	atf_set require.progs "openssl"
}
overwritten_in_place_body()
{
	t_need_bin
	mkstore
	t_pass conf
	f="certs/$(t_hash A).0"
	cp -p "$f" ref
	size=$(wc -c <"$f")
	# The administrator's own certificate, padded to the same size.
	t_cert LOCAL "/O=smtlsd test/CN=Alpha CA"
	{ cat LOCAL.pem; echo "# local CA"; } >mine
	while [ "$(wc -c <mine)" -lt "$size" ]; do echo "#" >>mine; done
	head -c "$size" mine >mine.exact
	cat mine.exact >"$f"		# same inode
	touch -r ref "$f"		# mtime put back
	cksum "$f" >sum.before
	# A leaves the bundle: a file of ours holding A would be removed.
	t_bundle a.crt B1 C1 B2 B3 C2
	t_pass conf
	[ -f "$f" ] || atf_fail "the administrator's file was removed"
	cksum "$f" | cmp -s - sum.before || atf_fail "it was rewritten"
	# And with A back, A goes next to it rather than over it.
	t_bundle a.crt A B1 C1 B2 B3 C2
	t_pass conf
	cksum "$f" | cmp -s - sum.before || atf_fail "it was rewritten"
	[ "$(t_slot certs A)" = "$(t_hash A).1" ] || atf_fail "A not at .1"
}

atf_test_case misnamed_own_file
misnamed_own_file_head()
{
	atf_set descr "A file of ours renamed to a wrong hash name does" \
	    "not make smtlsd put its certificate under that hash"
	atf_set require.progs "openssl awk"
}
misnamed_own_file_body()
{
	t_need_bin
	mkstore
	t_pass conf
	ha=$(t_hash A)
	mv "certs/$ha.0" certs/0badbad0.0
	t_pass conf
	t_same_as_rehash certs a.crt
	cp "certs/$ha.0" certs/0badbad1.0
	rm certs/.smtlsd.index
	t_pass conf
	t_same_as_rehash certs a.crt
}

# ------------------------------------------------------------- point 6

# Fills the store from a.crt, then points the configuration at the
# bundle $1 alone and checks that a pass exits 1, names the bundle (and
# the regular expression $2), and removes nothing.
damaged()
{
	t_conf conf "$(pwd)/certs" "$(pwd)/a.crt"
	t_pass conf
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index >before
	t_conf conf "$(pwd)/certs" "$1"
	t_pass_fails conf "$1"
	[ -z "${2:-}" ] || t_err_has "$2"
	t_listing certs | grep -v '^\. ' | grep -v smtlsd.index >after
	if grep -v -F -x -f after before; then
		atf_fail "files were removed or changed with a damaged bundle"
	fi
	t_err_has 'pass failed'
}

atf_test_case damaged_truncated
damaged_truncated_head()
{
	atf_set descr "A bundle truncated in the middle of a block: what" \
	    "decoded is added, nothing removed, the block named by line," \
	    "exit 1"
	atf_set require.progs "openssl"
}
damaged_truncated_body()
{
	t_need_bin
	mkstore
	t_cert D "/CN=Delta"
	t_bundle new.crt D A B1
	lines=$(wc -l <new.crt)
	keep=$((lines - 4))
	head -n $keep new.crt >trunc.crt
	startb=$(grep -n BEGIN trunc.crt | tail -1 | cut -d: -f1)
	damaged "$(pwd)/trunc.crt" "trunc.crt:$startb:"
	[ -f "certs/$(t_hash D).0" ] || atf_fail "D, which decoded, was not added"
}

atf_test_case damaged_block
damaged_block_head()
{
	atf_set descr "A block that does not decode (bad base64, bad DER," \
	    "not a certificate, no END line) is reported with file and" \
	    "line; the rest is read and added; nothing is removed"
	atf_set require.progs "openssl"
}
damaged_block_body()
{
	t_need_bin
	mkstore
	t_cert D "/CN=Delta"
	t_cert E "/CN=Echo"
	# Line 3 of A's block gets a character that is not base64.
	{ echo "# comment"; sed '3s/^./*/' A.pem; cat D.pem; } >bad64.crt
	damaged "$(pwd)/bad64.crt" 'bad64.crt:2: .*base64'
	[ -f "certs/$(t_hash D).0" ] || atf_fail "D after the bad block is lost"

	# Valid base64 that is not DER.
	{ cat E.pem; echo "-----BEGIN CERTIFICATE-----";
	  echo "aGVsbG8gd29ybGQK"; echo "-----END CERTIFICATE-----"; } >baddr.crt
	l=$(($(wc -l <E.pem) + 1))
	damaged "$(pwd)/baddr.crt" "baddr.crt:$l: .*DER"
	[ -f "certs/$(t_hash E).0" ] || atf_fail "E before the bad block is lost"

	# A DER SEQUENCE that is not a certificate.
	{ echo "-----BEGIN CERTIFICATE-----"; echo "MAMCAQA=";
	  echo "-----END CERTIFICATE-----"; cat A.pem; } >notx509.crt
	damaged "$(pwd)/notx509.crt" 'notx509.crt:1: '

	# A block whose END line is lost, followed by a good one.
	t_cert F "/CN=Foxtrot"
	{ grep -v END D.pem; cat F.pem; } >noend.crt
	damaged "$(pwd)/noend.crt" 'noend.crt:1: '
	[ -f "certs/$(t_hash F).0" ] ||
	    atf_fail "F after a block without END was not read"
}

atf_test_case damaged_files
damaged_files_head()
{
	atf_set descr "A bundle that is missing, empty, a directory, a" \
	    "device, a FIFO, binary garbage or DER: one message naming the" \
	    "path, nothing removed, exit 1, no hang"
	atf_set require.progs "openssl"
}
damaged_files_body()
{
	t_need_bin
	mkstore
	damaged "$(pwd)/missing.crt" 'missing.crt.*No such file'
	: >empty.crt
	damaged "$(pwd)/empty.crt" 'empty.crt.*empty'
	mkdir dir.crt
	damaged "$(pwd)/dir.crt" 'dir.crt.*directory'
	damaged /dev/null '/dev/null.*not a regular file'
	damaged /dev/zero '/dev/zero.*not a regular file'
	mkfifo fifo.crt
	damaged "$(pwd)/fifo.crt" 'fifo.crt.*not a regular file'
	dd if=/dev/urandom of=garbage.crt bs=1024 count=256 2>/dev/null
	damaged "$(pwd)/garbage.crt" 'garbage.crt.*no PEM certificate'
	openssl x509 -in A.pem -outform DER -out der.crt
	damaged "$(pwd)/der.crt" 'der.crt.*DER'
	# 300 MB (sparse: no disk used) is no CA bundle.
	if dd if=/dev/zero of=huge.crt bs=1048576 count=0 seek=300 \
	    2>/dev/null; then
		damaged "$(pwd)/huge.crt" 'huge.crt.*larger than'
	fi
	# Each gets a clear message, not a flood.
	[ "$(grep -c 'der.crt' err)" -le 3 ] || { cat err; atf_fail "flood"; }
}

atf_test_case damaged_unreadable
damaged_unreadable_head()
{
	atf_set descr "An unreadable bundle: message naming it, nothing" \
	    "removed, exit 1"
	atf_set require.progs "openssl"
}
damaged_unreadable_body()
{
	t_need_bin
	t_need_unpriv
	mkstore
	t_pass conf
	cp a.crt locked.crt
	chmod 000 locked.crt
	t_conf conf "$(pwd)/certs" "$(pwd)/locked.crt"
	t_listing certs >before
	t_rc=0
	t_unpriv "$SMTLSD" -f conf -1 >out 2>err || t_rc=$?
	[ $t_rc -eq 1 ] || { cat err; atf_fail "exit $t_rc, expected 1"; }
	t_err_has 'locked.crt.*Permission denied'
	t_listing certs >after
	cmp -s before after || atf_fail "cert_dir changed"
}

atf_test_case damaged_one_of_two
damaged_one_of_two_head()
{
	atf_set descr "With two bundles of which one is missing, the other" \
	    "is added but nothing is pruned"
	atf_set require.progs "openssl"
}
damaged_one_of_two_body()
{
	t_need_bin
	mkstore
	t_pass conf
	t_cert D "/CN=Delta"
	t_conf conf "$(pwd)/certs" "$(pwd)/D.pem" "$(pwd)/gone.crt"
	t_pass_fails conf 'gone.crt'
	[ -f "certs/$(t_hash D).0" ] || atf_fail "D was not added"
	[ "$(t_names certs | wc -l)" -eq 7 ] || atf_fail "files were pruned"
}

# ------------------------------------------------------------- point 8

atf_test_case huge_lines
huge_lines_head()
{
	atf_set descr "Lines of megabytes between and inside blocks do" \
	    "not crash it: text is skipped, a huge block is reported"
	atf_set require.progs "openssl"
}
huge_lines_body()
{
	t_need_bin
	mkstore
	t_pass conf
	t_cert D "/CN=Delta"
	# 4 MB of text on one line between two good blocks.
	head -c 4194304 /dev/zero | tr '\0' 'x' >big
	{ cat A.pem big; echo; cat D.pem B1.pem B2.pem B3.pem C1.pem C2.pem; } \
	    >between.crt
	t_conf conf "$(pwd)/certs" "$(pwd)/between.crt"
	t_pass conf
	[ -f "certs/$(t_hash D).0" ] || atf_fail "D after the long line lost"
	# 4 MB of base64 on one line inside a block; then a 4 MB BEGIN line.
	head -c 4194304 /dev/zero | tr '\0' 'A' >big
	{ echo "-----BEGIN CERTIFICATE-----"; cat big; echo;
	  echo "-----END CERTIFICATE-----"; printf -- '-----BEGIN '; cat big;
	  echo; cat A.pem; } >inside.crt
	damaged "$(pwd)/inside.crt" 'inside.crt:1: '
	# 4 MB without any newline.
	head -c 4194304 /dev/zero | tr '\0' 'A' >nonl.crt
	damaged "$(pwd)/nonl.crt" 'nonl.crt.*no PEM certificate'
}

# ----------------------------------------------------- private keys

atf_test_case private_key
private_key_head()
{
	atf_set descr "A private key in a bundle is reported with file and" \
	    "line and never copied into the store"
	atf_set require.progs "openssl"
}
private_key_body()
{
	t_need_bin
	mkstore
	openssl genrsa -traditional 1024 >rsa.key 2>/dev/null ||
	    openssl genrsa 1024 >rsa.key 2>/dev/null
	openssl ec -in A.key -out ec.key 2>/dev/null
	{ cat A.pem; cat A.key; cat B1.pem; cat rsa.key; cat ec.key;
	  cat B2.pem B3.pem C1.pem C2.pem; } >keys.crt
	l1=$(($(wc -l <A.pem) + 1))
	l2=$(($(wc -l <A.pem) + $(wc -l <A.key) + $(wc -l <B1.pem) + 1))
	t_conf conf "$(pwd)/certs" "$(pwd)/keys.crt"
	t_run -f conf -1
	t_err_has "keys.crt:$l1: .*private key"
	t_err_has "keys.crt:$l2: .*private key"
	[ "$(grep -c 'private key' err)" -eq 3 ] ||
	    { cat err; atf_fail "expected 3 keys reported"; }
	if grep -r PRIVATE certs; then
		atf_fail "a private key was copied into the store"
	fi
	for k in A.key rsa.key ec.key; do
		sed -n 2p $k >keyline
		if grep -r -F -f keyline certs; then
			atf_fail "key material of $k is in the store"
		fi
	done
	[ "$(t_names certs | wc -l)" -eq 6 ] || atf_fail "certificates lost"
}

# ------------------------------------------------------------- point 7

atf_test_case dry_run
dry_run_head()
{
	atf_set descr "-N prints what a pass would add, replace and remove" \
	    "and changes nothing; a pass then does exactly that"
	atf_set require.progs "openssl"
}
dry_run_body()
{
	t_need_bin
	mkstore
	# On an empty directory: everything would be added.
	atf_check -o save:out -e ignore "$SMTLSD" -f conf -N
	[ "$(ls -A certs)" = "" ] || atf_fail "-N wrote into cert_dir"
	[ "$(grep -c '^add ' out)" -eq 6 ] || { cat out; atf_fail "6 adds"; }
	t_pass conf
	# A leaves, D arrives, B1 leaves (B3 moves to .0), A's old file
	# is hand-damaged... and a temporary file of a crashed pass lies
	# around.
	t_cert D "/CN=Delta"
	t_bundle a.crt D B2 B3 C1 C2
	fc="certs/$(t_hash C1).0"
	sed 's/^MII/MIJ/' "$fc" >x && cat x >"$fc"
	: >certs/.smtlsd.tmp.deadbeef
	t_listing certs >before
	atf_check -o save:out -e ignore "$SMTLSD" -f conf -N
	t_listing certs >after
	if ! cmp -s before after; then
		diff -u before after >&2
		atf_fail "-N changed cert_dir"
	fi
	grep -q "^add .*/$(t_hash D)\.0 " out || { cat out; atf_fail "no add"; }
	grep -q "^remove .*/$(t_hash A)\.0\$" out || { cat out;
	    atf_fail "no remove"; }
	grep -q "^replace .*/$(t_hash C1)\.[01] " out || { cat out;
	    atf_fail "no replace"; }
	sed -n 's/^\([a-z]*\) *\([^ ]*\).*/\1 \2/p' out | sort >planned
	t_pass conf
	# What the pass did is what -N said.
	cut -d' ' -f1 <before | grep -E "$T_HASHRE" >names.before
	t_names certs >names.after
	{
		grep -v -x -F -f names.after names.before | sed 's/^/remove /'
		grep -v -x -F -f names.before names.after | sed 's/^/add /'
	} | sort >did
	grep -v '^replace ' planned | sed 's|\([a-z]*\) .*/|\1 |' | sort >said
	if ! cmp -s said did; then
		diff -u said did >&2
		atf_fail "-N did not predict the pass"
	fi
	t_same_as_rehash certs a.crt
	[ ! -e certs/.smtlsd.tmp.deadbeef ] ||
	    atf_fail "the stale temporary file was not cleaned by the pass"
}

# ------------------------------------------------------------- point 8

atf_test_case cert_dir_bad
cert_dir_bad_head()
{
	atf_set descr "cert_dir missing, a file, a symbolic link: one" \
	    "message naming it, exit 1, nothing written anywhere"
	atf_set require.progs "openssl"
}
cert_dir_bad_body()
{
	t_need_bin
	mkstore
	rmdir certs
	mkdir real snap
	for kind in missing file symlink; do
		case $kind in
		missing)	;;
		file)		echo data >certs ;;
		symlink)	ln -s real certs ;;
		esac
		t_listing . >snap/before
		t_listing real >>snap/before
		t_pass_fails conf
		t_listing . >snap/after
		t_listing real >>snap/after
		grep -v -e '^\. ' -e '^err ' -e '^out ' -e '^snap ' -e '^aux ' \
		    snap/before >snap/b
		grep -v -e '^\. ' -e '^err ' -e '^out ' -e '^snap ' -e '^aux ' \
		    snap/after >snap/a
		cmp -s snap/b snap/a || { diff -u snap/b snap/a >&2;
		    atf_fail "$kind: something was written"; }
		[ "$(ls -A real)" = "" ] || atf_fail "$kind: wrote to real/"
		# One message about cert_dir, then the pass summary.
		n=$(grep -v -e 'pass failed' -e 'certificates (' err |
		    grep -c "$(pwd)/certs")
		[ "$n" -eq 1 ] || { cat err; atf_fail "$kind: $n messages"; }
		case $kind in
		missing)	t_err_has 'certs: does not exist' ;;
		file)		t_err_has 'certs: not a directory' ;;
		symlink)	t_err_has 'certs: is a symbolic link' ;;
		esac
		rm -f certs
	done
	# -N says the same.
	atf_check -s exit:1 -o ignore -e match:'certs: does not exist' \
	    "$SMTLSD" -f conf -N
}

atf_test_case cert_dir_readonly
cert_dir_readonly_head()
{
	atf_set descr "A cert_dir that is not writable: one message naming" \
	    "it, exit 1, nothing changed, no temporary files left"
	atf_set require.progs "openssl"
}
cert_dir_readonly_body()
{
	t_need_bin
	t_need_unpriv
	mkstore
	t_pass conf
	t_cert D "/CN=Delta"
	t_bundle a.crt D B2 B3 C1 C2
	chmod 555 certs
	t_listing certs >before
	t_rc=0
	t_unpriv "$SMTLSD" -f conf -1 >out 2>err || t_rc=$?
	[ $t_rc -eq 1 ] || { cat err; atf_fail "exit $t_rc, expected 1"; }
	t_err_has "cert_dir $(pwd)/certs: not writable \\(Permission denied\\)"
	t_listing certs >after
	cmp -s before after || { diff -u before after >&2;
	    atf_fail "cert_dir changed"; }
	n=$(grep -v -e 'pass failed' -e 'certificates (' err | grep -c .)
	[ "$n" -eq 1 ] || { cat err; atf_fail "$n messages for one problem"; }
	# A pass that has nothing to change needs no write access.
	chmod 755 certs
	t_pass conf
	chmod 555 certs
	t_rc=0
	t_unpriv "$SMTLSD" -f conf -1 >out 2>err || t_rc=$?
	chmod 755 certs
	[ $t_rc -eq 0 ] || { cat err; atf_fail "an idle pass failed"; }
}

# ------------------------------------------------------- robustness

atf_test_case bundle_symlink
bundle_symlink_head()
{
	atf_set descr "A bundle reached through a symbolic link (FreeBSD's" \
	    "/etc/ssl/cert.pem) is read"
	atf_set require.progs "openssl awk"
}
bundle_symlink_body()
{
	t_need_bin
	mkstore
	ln -s a.crt link.crt
	t_conf conf "$(pwd)/certs" "$(pwd)/link.crt"
	t_pass conf
	t_same_as_rehash certs a.crt
}

atf_test_case index_is_a_cache
index_is_a_cache_head()
{
	atf_set descr "The index is only a cache: garbage in it, or a" \
	    "symbolic link in its place, changes no certificate file and" \
	    "is never followed"
	atf_set require.progs "openssl awk"
}
index_is_a_cache_body()
{
	t_need_bin
	mkstore
	t_pass conf
	t_listing certs | grep -v -e '^\. ' -e smtlsd.index >before
	head -c 3000 /dev/urandom >certs/.smtlsd.index
	t_pass conf
	t_listing certs | grep -v -e '^\. ' -e smtlsd.index >after
	cmp -s before after || { diff -u before after >&2;
	    atf_fail "a garbage index made smtlsd rewrite files"; }
	head -1 certs/.smtlsd.index | grep -q '^smtlsd-index' ||
	    atf_fail "the garbage index was not replaced"
	# A link in the index's place is replaced, never followed.
	echo "outside" >outside
	rm certs/.smtlsd.index
	ln -s "$(pwd)/outside" certs/.smtlsd.index
	t_pass conf
	[ "$(cat outside)" = outside ] || atf_fail "the index link was followed"
	[ -f certs/.smtlsd.index ] && [ ! -L certs/.smtlsd.index ] ||
	    atf_fail "the index was not rewritten as a file of its own"
	t_same_as_rehash certs a.crt
}

atf_test_case index_lies
index_lies_head()
{
	atf_set descr "An index line that names the wrong certificate for" \
	    "its file makes that file be written again, and nothing else;" \
	    "a line that does not parse makes the whole index read as none," \
	    "and no file is written again"
	atf_set require.progs "openssl awk"
}
index_lies_body()
{
	t_need_bin
	mkstore
	t_pass conf
	t_listing certs | grep -v -e '^\. ' -e smtlsd.index >before

	zero=0000000000000000000000000000000000000000000000000000000000000000
	awk -v z="$zero" 'NR == 2 { $6 = z } 1' certs/.smtlsd.index \
	    >index.new
	cmp -s index.new certs/.smtlsd.index && atf_fail "no file line"
	mv index.new certs/.smtlsd.index
	t_pass conf
	t_err_has '0 added, 1 replaced, 0 removed'
	t_same_as_rehash certs a.crt
	grep -q "$zero" certs/.smtlsd.index &&
	    atf_fail "the index still names the wrong certificate"

	t_listing certs | grep -v -e '^\. ' -e smtlsd.index >before
	awk 'NR == 2 { $0 = $0 " more" } 1' certs/.smtlsd.index >index.new
	mv index.new certs/.smtlsd.index
	t_pass conf
	t_err_has '0 added, 0 replaced, 0 removed'
	t_listing certs | grep -v -e '^\. ' -e smtlsd.index >after
	cmp -s before after || { diff -u before after >&2;
	    atf_fail "a damaged index made smtlsd write files again"; }
	grep -q ' more$' certs/.smtlsd.index &&
	    atf_fail "the damaged index was not rebuilt"
	t_same_as_rehash certs a.crt
}

atf_test_case concurrent_passes
concurrent_passes_head()
{
	atf_set descr "Passes running at the same time on one cert_dir all" \
	    "succeed and leave the store right, with no temporary files"
	atf_set require.progs "openssl awk"
}
concurrent_passes_body()
{
	t_need_bin
	mkstore
	t_cert D "/CN=Delta"
	t_bundle b.crt D B2 B3 C2
	t_conf confb "$(pwd)/certs" "$(pwd)/b.crt"
	for _ in 1 2 3; do
		pids=""
		for i in 1 2 3 4; do
			c=conf
			[ $((i % 2)) -eq 0 ] && c=confb
			timeout "$T_TIMEOUT" "$SMTLSD" -f $c -1 \
			    >out.$i 2>err.$i &
			pids="$pids $!"
		done
		for pid in $pids; do
			wait "$pid" || { cat err.*; atf_fail "a pass failed"; }
		done
		ls -A certs | grep smtlsd.tmp && atf_fail "temporary files left"
		t_pass confb
		t_same_as_rehash certs b.crt
	done
}

atf_init_test_cases()
{
	atf_add_test_case rehash_system
	atf_add_test_case rehash_collisions
	atf_add_test_case rehash_several_bundles
	atf_add_test_case freebsd_nss
	atf_add_test_case trusted_certificate
	atf_add_test_case trust_change
	atf_add_test_case utf8_bom
	atf_add_test_case x509_certificate_label
	atf_add_test_case pem_refused
	atf_add_test_case pem_accepted
	atf_add_test_case crl_said
	atf_add_test_case stable_numbering
	atf_add_test_case bundle_order
	atf_add_test_case gapless_collision
	atf_add_test_case second_pass_changes_nothing
	atf_add_test_case unchanged_files_kept
	atf_add_test_case unchanged_pass_reads_no_cert
	atf_add_test_case adds_before_removes
	atf_add_test_case failed_put_no_removal
	atf_add_test_case changed_before_removal
	atf_add_test_case foreign_untouched
	atf_add_test_case foreign_unloadable
	atf_add_test_case foreign_removed_renumbers
	atf_add_test_case taken_over
	atf_add_test_case overwritten_in_place
	atf_add_test_case misnamed_own_file
	atf_add_test_case damaged_truncated
	atf_add_test_case damaged_block
	atf_add_test_case damaged_files
	atf_add_test_case damaged_unreadable
	atf_add_test_case damaged_one_of_two
	atf_add_test_case huge_lines
	atf_add_test_case private_key
	atf_add_test_case dry_run
	atf_add_test_case cert_dir_bad
	atf_add_test_case cert_dir_readonly
	atf_add_test_case bundle_symlink
	atf_add_test_case index_is_a_cache
	atf_add_test_case index_lies
	atf_add_test_case concurrent_passes
}
