#!/bin/sh
# Objects built with and without SANITIZE=1, or by different compilers,
# must not mix: when the kind asked for differs from the last build's
# (recorded in .flavor), remove what was built.
# Usage: sh mk/flavor.sh SANITIZE-value CC
want="sanitize=${1:-0} cc=${2:-cc}"
have=$(cat .flavor 2>/dev/null)
if [ "$want" != "$have" ]; then
	[ -n "$have" ] && echo "smtlsd: $have -> $want: rebuilding everything"
	rm -f lib/*.o lib/*.a daemon/*.o daemon/smtlsd tests/conf_test \
	    tests/bundle_test tests/fake_sendmail
	echo "$want" > .flavor
fi
