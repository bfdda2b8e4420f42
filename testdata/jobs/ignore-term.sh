#!/bin/sh
# ignore-term.sh: ignores SIGTERM, so rw stop needs its grace period and
# then SIGKILL.
trap 'echo "got SIGTERM, ignoring it"' TERM
echo "running; SIGTERM is ignored"
while :; do sleep 1; done
