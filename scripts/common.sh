# Shared helpers for the project's service scripts. Sourced, not run.
# Every service binds 127.0.0.1 and keeps its state under $MAXWELL_HA_RUN (default: <repo>/.run).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${MAXWELL_HA_RUN:-$REPO_ROOT/.run}"
mkdir -p "$RUN_DIR"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# apt_install PKG... : install Debian packages that are missing (idempotent, quiet).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pid_alive FILE : true when FILE holds the PID of a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid FILE [SECONDS] : TERM the process in FILE, KILL it after SECONDS, remove FILE.
stop_pid() {
  local f="$1" wait="${2:-20}"
  pid_alive "$f" || { rm -f "$f"; return 0; }
  local pid; pid="$(cat "$f")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((wait * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

# maven_runtime_jars DIR LIB WHAT DEPENDENCIES : writes DIR/pom.xml (a `pom` project with the
# given <dependency> elements) and copies their runtime jars into LIB with Maven (installing
# Maven when missing); on failure shows Maven's log and exits.
maven_runtime_jars() {
  local dir="$1" lib="$2" what="$3" deps="$4"
  command -v mvn >/dev/null || apt_install maven
  log "fetching $what from Maven Central (once; cached in $dir)"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>maxwell-ha.local</groupId>
  <artifactId>runtime-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
</project>
POM
  rm -rf "$lib"
  if ! (cd "$dir" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib") >"$dir/mvn.log" 2>&1; then
    cat "$dir/mvn.log" >&2; log "Maven could not fetch $what (see above)"; exit 1
  fi
}
