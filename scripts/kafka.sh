#!/usr/bin/env bash
# The development Kafka broker: scripts/kafka.sh up|down|status [HOME]
#   up      start a broker in the background (data, config and logs in HOME/kafka); print its bootstrap
#   down    stop it (SIGTERM to its own pid only)
#   status  print its bootstrap and exit 0, or print "not running" and exit 1
# HOME defaults to $LEDGER_HOME, else ./.ledger. The broker's jars are fetched once from Maven Central
# with mvn (cached in ~/.cache/social-care-ledger or $LEDGER_CACHE_DIR); it needs Java 17+.
# Set PYTHON to choose the interpreter (default: python, else python3).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$(command -v python || command -v python3)}"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m devtools.kafka_broker "$@"
