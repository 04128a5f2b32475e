#!/usr/bin/env bash
# The project's test command (README, .ci/run). On a machine with only Rust, gcc, Python and
# Java it installs what the tests need, starts a private MariaDB on 127.0.0.1 (own port and
# state dir), runs every unit and integration test, and stops what it started.
#   scripts/test.sh [cargo test args...]
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
apt_install mariadb-server mariadb-client build-essential pkg-config
export MAXWELL_HA_RUN="${MAXWELL_HA_RUN:-$(mktemp -d /tmp/maxwell-ha-test.XXXXXX)}"
export MARIADB_PORT="${MARIADB_PORT:-3407}"
export MAXWELL_TEST_MYSQL_PORT="$MARIADB_PORT"
fixtures="${MAXWELL_FIXTURES:-$REPO_ROOT/../shared/maxwell-fixtures}"
[ -d "$fixtures" ] || { log "Maxwell fixtures not found at $fixtures (set MAXWELL_FIXTURES)"; exit 1; }
"$REPO_ROOT/scripts/mariadb.sh" start
trap '"$REPO_ROOT/scripts/mariadb.sh" stop' EXIT
cargo test --release --locked "$@"
