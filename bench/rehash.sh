#!/bin/sh
# Split the bundle into dir, one file per certificate, then let
# `openssl rehash' make the <hash>.N links (it drops exact duplicates).
# usage: sh rehash.sh bundle dir

[ $# -eq 2 ] || { echo "usage: sh rehash.sh bundle dir" >&2; exit 2; }
sh "$(dirname "$0")/split.sh" "$1" "$2" || exit 1
exec openssl rehash "$2" 2>/dev/null
