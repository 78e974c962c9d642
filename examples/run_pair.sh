#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An example pair as two processes over one POSIX shm object (tests in suite 'examples'): starts
# PRODUCER NAME, runs CONSUMER NAME, then stops the producer with SIGTERM. Passes when the
# consumer checked everything it asked for and the producer stopped cleanly.
# Usage: run_pair.sh PRODUCER CONSUMER
set -u
name=pane-example-$$-$RANDOM
"$1" "$name" 60 &
producer=$!
"$2" "$name"
consumer_rc=$?
kill -TERM "$producer" 2>/dev/null
wait "$producer"
producer_rc=$?
echo "consumer exit $consumer_rc, producer exit $producer_rc"
[ "$consumer_rc" -eq 0 ] && [ "$producer_rc" -eq 0 ]
