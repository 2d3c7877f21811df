#! /usr/bin/env atf-sh
#
# The manual pages and the sample configuration must not drift from the
# code: every keyword the parser accepts (lib/conf.c) is documented in
# smtlsd.conf(5) and in smtlsd.conf.sample, nothing else is, every getopt
# flag of daemon/smtlsd.c is in smtlsd(8), and the sample's commented
# values are the daemon's real defaults.

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

# Keywords accepted by the parser, one per line.
parser_keywords()
{
	grep -o 'strcmp(kw, "[a-z_]*")' "$T_TOP/lib/conf.c" |
	    sed 's/.*"\(.*\)")/\1/' | sort -u > parser.kw
	[ -s parser.kw ] ||
	    atf_fail "no strcmp(kw, \"...\") found in lib/conf.c"
}

# Compares two keyword lists; fails naming what is missing or extra.
compare_lists()
{
	# $1 documented list, $2 what documents it
	missing=$(comm -23 parser.kw "$1" | tr '\n' ' ')
	extra=$(comm -13 parser.kw "$1" | tr '\n' ' ')
	[ -z "$missing" ] || atf_fail "not documented in $2: $missing"
	[ -z "$extra" ] || atf_fail "documented in $2 but not accepted" \
	    "by lib/conf.c: $extra"
}

atf_test_case lint
lint_head()
{
	atf_set "descr" "Both manual pages are clean under mandoc -Tlint"
	atf_set "require.progs" "mandoc"
}
lint_body()
{
	for page in daemon/smtlsd.8 etc/smtlsd.conf.5; do
		# -W warning: the STYLE level also reports manuals missing
		# from this machine, which says nothing about the page.
		atf_check -s exit:0 -o empty -e empty \
		    mandoc -Tlint -W warning "$T_TOP/$page"
	done
}

atf_test_case conf5_keywords
conf5_keywords_head()
{
	atf_set "descr" "smtlsd.conf(5) documents exactly the parser's keywords"
}
conf5_keywords_body()
{
	parser_keywords
	sed -n 's/^\.It Ic \([a-z_]*\).*/\1/p' "$T_TOP/etc/smtlsd.conf.5" |
	    sort -u > doc.kw
	compare_lists doc.kw smtlsd.conf.5
	# Each keyword states its default (or that it has none).
	awk '/^\.It Ic /{ if (kw != "" && !seen) print kw; kw = $3; seen = 0 }
	    /[Dd]efault/{ seen = 1 }
	    /^\.El/{ if (kw != "" && !seen) print kw; kw = "" }' \
	    "$T_TOP/etc/smtlsd.conf.5" > nodefault
	[ ! -s nodefault ] || atf_fail "no default stated for:" \
	    "$(tr '\n' ' ' < nodefault)"
}

atf_test_case sample_keywords
sample_keywords_head()
{
	atf_set "descr" "smtlsd.conf.sample shows exactly the parser's keywords"
}
sample_keywords_body()
{
	parser_keywords
	sed -n 's/^#\([a-z_][a-z_]*\)[[:space:]].*/\1/p' \
	    "$T_TOP/etc/smtlsd.conf.sample" | sort -u > sample.kw
	compare_lists sample.kw smtlsd.conf.sample
	# Nothing in the sample is active: it is all defaults.
	atf_check -s exit:1 -o empty grep -v -e '^#' -e '^$' \
	    "$T_TOP/etc/smtlsd.conf.sample"
}

atf_test_case sample_defaults
sample_defaults_head()
{
	atf_set "descr" "The values in smtlsd.conf.sample are the defaults" \
	    "smtlsd -n -v reports for an empty configuration"
}
sample_defaults_body()
{
	smtlsd="$T_TOP/daemon/smtlsd"
	[ -x "$smtlsd" ] || atf_fail "$smtlsd is not built"
	case "$(uname -s)" in
	Linux)	other=FreeBSD ;;
	*)	other=Linux ;;
	esac
	# Uncomment the setting lines of this system; "# example" lines
	# show a value, not a default.
	grep '^#[a-z_][a-z_]*[[:space:]]' "$T_TOP/etc/smtlsd.conf.sample" |
	    grep -v -e "# $other\$" -e '# example$' | sed 's/^#//' > sample.conf
	: > empty.conf
	chmod 600 sample.conf empty.conf
	atf_check -s exit:0 -o save:defaults.out -e empty \
	    "$smtlsd" -n -v -f "$PWD/empty.conf"
	atf_check -s exit:0 -o save:sample.out -e empty \
	    "$smtlsd" -n -v -f "$PWD/sample.conf"
	[ -s defaults.out ] || atf_fail "smtlsd -n -v printed nothing"
	if ! diff -u defaults.out sample.out > diff.out; then
		cat diff.out >&2
		atf_fail "smtlsd.conf.sample differs from the defaults"
	fi
}

atf_test_case flags_documented
flags_documented_head()
{
	atf_set "descr" "smtlsd(8) documents exactly the flags of getopt()"
}
flags_documented_body()
{
	src="$T_TOP/daemon/smtlsd.c"
	[ -r "$src" ] || atf_fail "$src is missing"
	opts=$(sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' "$src")
	[ -n "$opts" ] || atf_fail "no getopt(argc, argv, \"...\") in $src"
	echo "$opts" | tr -d ':' | fold -w 1 | sort -u > code.fl
	sed -n 's/^\.It Fl \([A-Za-z0-9]\).*/\1/p' \
	    "$T_TOP/daemon/smtlsd.8" | sort -u > man.fl
	if ! diff -u code.fl man.fl > diff.out; then
		cat diff.out >&2
		atf_fail "flags in getopt() and in smtlsd.8 differ"
	fi
	# The SYNOPSIS names the same flags.
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' \
	    "$T_TOP/daemon/smtlsd.8" |
	    sed -n 's/.*Fl \([A-Za-z0-9]*\).*/\1/p' | fold -w 1 |
	    sort -u > synopsis.fl
	if ! diff -u code.fl synopsis.fl > diff.out; then
		cat diff.out >&2
		atf_fail "flags in getopt() and in the SYNOPSIS differ"
	fi
}

atf_init_test_cases()
{
	atf_add_test_case lint
	atf_add_test_case conf5_keywords
	atf_add_test_case sample_keywords
	atf_add_test_case sample_defaults
	atf_add_test_case flags_documented
}
