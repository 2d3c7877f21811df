#!/bin/sh
# Split a PEM bundle into one file per certificate: dir/cert-NNNNN.pem.
# Text between the blocks (as in ca-root-nss.crt) is left out.
# usage: sh split.sh bundle dir

[ $# -eq 2 ] || { echo "usage: sh split.sh bundle dir" >&2; exit 2; }
exec awk -v dir="$2" '
/^-----BEGIN CERTIFICATE-----/ { f = sprintf("%s/cert-%05d.pem", dir, ++n) }
f != "" { print > f }
/^-----END CERTIFICATE-----/ { close(f); f = "" }
' "$1"
