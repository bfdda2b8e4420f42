#!/bin/sh
# counter.sh N: prints a numbered line a second for N seconds (10 if not given).
n=${1:-10}
i=1
while [ "$i" -le "$n" ]; do
	echo "count $i of $n"
	if [ "$i" -lt "$n" ]; then sleep 1; fi
	i=$((i + 1))
done
