#!/bin/sh
# Checks the manual pages: each one lints without a single warning (mandoc -T lint -W
# warning, or groff -ww -z where mandoc is missing) and has the sections every page
# promises. Usage: check.sh [PAGE...]   (default: every page in this directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ $# -gt 0 ] || set -- *.[0-9]

if command -v mandoc >/dev/null 2>&1; then
	lint() { mandoc -T lint -W warning "$1" 2>&1; }
elif command -v groff >/dev/null 2>&1; then
	lint() { groff -t -ww -z -man "$1" 2>&1; }
else
	echo "check.sh: neither mandoc nor groff is installed (apt-get install mandoc)" >&2
	exit 1
fi

failed=0
for page in "$@"; do
	out=$(lint "$page") || { failed=1; }
	if [ -n "$out" ]; then
		printf '%s\n' "$out"
		failed=1
	fi
	# Section 1 says EXIT STATUS and DIAGNOSTICS where library pages say RETURN VALUE
	# and ERRORS.
	case "$page" in
	*.1) sections="NAME|SYNOPSIS|DESCRIPTION|EXIT STATUS|DIAGNOSTICS|NOTES|EXAMPLE|SEE ALSO" ;;
	*) sections="NAME|SYNOPSIS|DESCRIPTION|RETURN VALUE|ERRORS|NOTES|EXAMPLE|SEE ALSO" ;;
	esac
	IFS='|'
	for s in $sections; do
		if ! grep -qx "\.SH \"\{0,1\}$s\"\{0,1\}" "$page"; then
			echo "$page: no $s section"
			failed=1
		fi
	done
	unset IFS
done
# aiolos(1) names every long option of the command: each `#[arg(long ...)]` field of the
# CLI's sources must appear as \-\-name in the page.
cli="$here/../../aiolos-cli/src"
case " $* " in
*" aiolos.1 "*)
	if [ -d "$cli" ]; then
		for opt in $(find "$cli" -name '*.rs' -exec awk '
			/#\[arg\(/ && /long/ { want = 1; next }
			want && /pub [a-z_]+:/ { sub(/.*pub /, ""); sub(/:.*/, ""); gsub(/_/, "-"); print; want = 0 }
		' {} + | sort -u); do
			pat=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
			if ! grep -q "\\\\-\\\\-$pat" aiolos.1; then
				echo "aiolos.1: the option --$opt of the command is not described"
				failed=1
			fi
		done
	fi
	;;
esac

[ "$failed" -eq 0 ] && echo "man pages: $# checked, no warnings"
exit "$failed"
