#!/bin/sh
# The seed's manual method: split the bundle into single files, then one
# `openssl x509 -hash -noout' per certificate and a copy to dir/<hash>.N
# (the first free N).  Like the administrator on the seed page it keeps
# exact duplicates.
# usage: sh manual.sh bundle dir

[ $# -eq 2 ] || { echo "usage: sh manual.sh bundle dir" >&2; exit 2; }
bundle=$1
dir=$2
work=$dir.split
rm -rf "$work" && mkdir "$work" || exit 1
sh "$(dirname "$0")/split.sh" "$bundle" "$work" || exit 1
for f in "$work"/cert-*.pem; do
	[ -f "$f" ] || continue
	h=$(openssl x509 -hash -noout -in "$f") || exit 1
	n=0
	while [ -e "$dir/$h.$n" ]; do
		n=$((n + 1))
	done
	cp "$f" "$dir/$h.$n" || exit 1
done
rm -rf "$work"
