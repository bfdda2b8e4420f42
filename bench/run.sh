#!/usr/bin/env bash
# bench/run.sh measures rw against its floors in the same run and prints one
# table: path, rw, floor, ratio, goal, met?. Ratios, not absolute figures,
# are what to compare between runs: the machine may be shared and noisy.
#
#   bench/run.sh            the full run (about 10 minutes)
#   bench/run.sh --quick    smaller sizes (about 2 minutes)
#
# It builds, into a temporary directory: rw from this checkout; the floors
# (bench/floorclient, a one-request mTLS client; bench/hello, a Go
# hello-world; bench/rwbench, the floor servers and the driver); and
# bench/child/add.c, a 9 KB static child, where gcc can build it. Then
# rwbench run starts rw serve and the floor servers on loopback, drives
# them, stops them and removes everything it made. Needs Go, curl, and for
# the static child gcc on x86-64 Linux. Run it as root to measure rw as it
# is deployed (jobs in cgroups, as nobody). What each row means:
# docs/PERFORMANCE.md.
set -euo pipefail

cd "$(dirname "$0")/.."
bin=$(mktemp -d -t rwbench-bin-XXXXXX)
trap 'rm -rf "$bin"' EXIT
chmod 755 "$bin"

go build -o "$bin/rw" .
go build -o "$bin/floorclient" ./bench/floorclient
go build -o "$bin/hello" ./bench/hello
go build -o "$bin/rwbench" ./bench/rwbench
cp testdata/jobs/add.exe "$bin/add.exe"
if [ "$(uname -m)" = x86_64 ] && command -v gcc >/dev/null &&
	gcc -static -nostdlib -Os -s -o "$bin/add-static" bench/child/add.c; then
	:
else
	echo "rwbench: no static child (needs gcc on x86-64): its row is skipped" >&2
fi

echo "# $(nproc) CPUs, Linux $(uname -r), $(go version | cut -d' ' -f3-), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
"$bin/rwbench" run -bin "$bin" "$@"
