#!/usr/bin/env bash
# smtp_server.sh: a real SMTP server for the integration tests (aiosmtpd, see
# tests/fakes/smtp_sink.py: each message becomes a file in MAILDIR/new). Runs in the
# foreground until SIGTERM/SIGINT; the caller keeps its pid.
#
# usage: tests/integration/smtp_server.sh PORT MAILDIR
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 PORT MAILDIR" >&2
    exit 2
fi
port=$1
maildir=$2
mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp"
# Debian's python3 (the one that sees python3-aiosmtpd), whatever python3 is on PATH.
exec /usr/bin/python3 "$(dirname "$(readlink -f "$0")")/../fakes/smtp_sink.py" "$port" "$maildir"
