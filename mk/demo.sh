#!/bin/sh
# make demo: one pass of smtlsd over this system's CA bundle into a
# scratch directory, and what came of it.  Then, when the end-to-end
# harness can run here (root, unshare), the whole story with real
# sendmail, pebble and dehydrated (tests/e2e/demo.sh).

set -u
top=$(pwd)
smtlsd=$top/daemon/smtlsd
case "$(uname -s)" in
Linux)	bundle=/etc/ssl/certs/ca-certificates.crt ;;
*)	bundle=/usr/local/share/certs/ca-root-nss.crt ;;
esac
if [ ! -r "$bundle" ]; then
	echo "demo: no CA bundle at $bundle (install ca-certificates" \
	    "or ca_root_nss)" >&2
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/smtlsd-demo.XXXXXX") || exit 1
mkdir "$work/certs"
# Files that are not smtlsd's, as /etc/mail/certs holds them.
echo "host key (not smtlsd's)" >"$work/certs/host.key"
echo "host cert (not smtlsd's)" >"$work/certs/host.cert"
cat >"$work/smtlsd.conf" <<CONF
ca_bundle $bundle
cert_dir $work/certs
dh_params_source ffdhe2048
acme_dir $work/no-acme
pidfile $work/smtlsd.pid
status_file $work/smtlsd.status
reload_signal none
CONF
chmod 644 "$work/smtlsd.conf"

say() { printf '\n==> %s\n' "$*"; }

say "The configuration ($work/smtlsd.conf)"
cat "$work/smtlsd.conf"
say "smtlsd -n: is it valid?"
"$smtlsd" -n -f "$work/smtlsd.conf"
say "smtlsd -N: what a pass would do (first lines)"
"$smtlsd" -N -f "$work/smtlsd.conf" 2>&1 | head -5
say "smtlsd -1: one pass"
"$smtlsd" -1 -f "$work/smtlsd.conf" || exit 1
n=$(find "$work/certs" -name '????????.*' | wc -l)
say "$work/certs now holds $n certificates, one file each, and dh.param:"
ls "$work/certs" | head -8
echo "..."
say "Subject hashes shared by several certificates (numbered .0, .1, ...):"
ls "$work/certs" | grep -E '^[0-9a-f]{8}\.[1-9]' |
    sed 's/\.[0-9]*$//' | sort -u | while read -r h; do
	ls "$work/certs" | grep "^$h\\." | tr '\n' ' '; echo
done
say "host.key and host.cert are untouched:"
cat "$work/certs/host.key" "$work/certs/host.cert"
say "What OpenSSL (and so sendmail) makes of it: verify a CA against the directory"
awk '/BEGIN CERT/{p=1} p{print} /END CERT/{exit}' "$bundle" >"$work/one.pem"
openssl verify -CApath "$work/certs" "$work/one.pem"
say "A second pass changes nothing:"
"$smtlsd" -1 -f "$work/smtlsd.conf"
say "Done.  Look at $work; check any certificate yourself with:"
echo "    openssl verify -CApath $work/certs cert.pem"
if [ -x "$top/tests/e2e/demo.sh" ] && [ "$(id -u)" -eq 0 ]; then
	say "Now the whole story with real sendmail, pebble and dehydrated"
	sh "$top/tests/e2e/demo.sh"
fi
