#! /usr/bin/env atf-sh
# etc/periodic/450.status-smtlsd, FreeBSD's daily status of smtlsd: run
# with a stand-in for service(8) that prints what rc.d/smtlsd prints.

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

SCRIPT="$T_TOP/etc/periodic/450.status-smtlsd"

# fake_service STATUS-LINE...: bin/service printing the lines for
# "service smtlsd onestatus".
fake_service()
{
	mkdir -p bin
	{
		echo '#!/bin/sh'
		# shellcheck disable=SC2016 # for the stand-in, not here
		echo '[ "$1 $2" = "smtlsd onestatus" ] || exit 2'
		for l in "$@"; do
			printf 'echo %s\n' "'$l'"
		done
	} > bin/service
	# bin/run ENABLE: the script as periodic(8) runs it, with ENABLE as
	# daily_status_smtlsd_enable and the stand-in first on PATH.
	# shellcheck disable=SC2016 # $PATH, $1 and $0 are bin/run's
	{
		echo '#!/bin/sh'
		printf 'PATH=%s/bin:$PATH\n' "'$(pwd)'"
		echo 'daily_status_smtlsd_enable=$1 exec sh "$0.script"'
	} > bin/run
	cp "$SCRIPT" bin/run.script
	chmod +x bin/service bin/run
}


atf_test_case ok
ok_head()
{
	atf_set descr "A good last pass: its line in the mail, exit 0"
}
ok_body()
{
	fake_service "smtlsd is running as pid 1234." \
	    "smtlsd: pass 7 ok 12 s ago: all good"
	atf_check -s exit:0 -o match:'^smtlsd status:$' \
	    -o match:'	smtlsd: pass 7 ok 12 s ago: all good' bin/run YES
}

atf_test_case failed
failed_head()
{
	atf_set descr "A failed pass (an expiring certificate): notable, exit 1"
}
failed_body()
{
	fake_service "smtlsd is running as pid 1234." \
	    "smtlsd: pass 9 failed 3 s ago: /le/certs/mail.example.org: the certificate expires in 9 days, on 2027-01-01 (renewed last on 2026-10-03; is dehydrated running?)"
	atf_check -s exit:1 -o match:'certificate expires in 9 days' bin/run YES
}

atf_test_case not_running
not_running_head()
{
	atf_set descr "smtlsd not running: notable, exit 1"
}
not_running_body()
{
	fake_service "smtlsd is not running."
	atf_check -s exit:1 -o match:'smtlsd is not running' bin/run YES
}

atf_test_case disabled
disabled_head()
{
	atf_set descr "daily_status_smtlsd_enable not YES: nothing, exit 0"
}
disabled_body()
{
	fake_service "smtlsd: pass 9 failed 3 s ago: broken"
	atf_check -s exit:0 -o empty bin/run NO
	atf_check -s exit:0 -o empty bin/run ""
}

atf_init_test_cases()
{
	atf_add_test_case ok
	atf_add_test_case failed
	atf_add_test_case not_running
	atf_add_test_case disabled
}
