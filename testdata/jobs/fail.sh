#!/bin/sh
# fail.sh [CODE]: writes to stderr and exits with CODE (3 if not given).
echo "failing with exit code ${1:-3}" >&2
exit "${1:-3}"
