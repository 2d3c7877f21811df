#!/bin/sh
# Split the bundle into dir, one file per certificate, then let
# `openssl rehash' make the <hash>.N links (it drops exact duplicates).
# With -s, then make it all durable as smtlsd does: one syncfs on Linux
# (sync -f), fsync(1) of every file and the directory elsewhere.
# usage: sh rehash.sh [-s] bundle dir

flush=0
if [ "${1:-}" = -s ]; then
	flush=1
	shift
fi
[ $# -eq 2 ] || { echo "usage: sh rehash.sh [-s] bundle dir" >&2; exit 2; }
sh "$(dirname "$0")/split.sh" "$1" "$2" || exit 1
openssl rehash "$2" 2>/dev/null || exit 1
[ $flush = 1 ] || exit 0
case $(uname -s) in
Linux)	exec sync -f "$2" ;;
*)	exec fsync "$2"/* "$2" ;;
esac
