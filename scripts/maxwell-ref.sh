#!/usr/bin/env bash
# Zendesk's Maxwell itself, as the reference for side-by-side conformance and speed runs.
# `com.zendesk:maxwell` and its runtime dependencies are fetched once from Maven Central with
# Maven and cached outside the repo (MAXWELL_REF_CACHE, default ~/.cache/maxwell-ha/maxwell-<v>).
#   scripts/maxwell-ref.sh install          fetch (once)
#   scripts/maxwell-ref.sh run ARGS...      exec Maxwell (`--config=FILE`, `--key=value` …)
#   scripts/maxwell-ref.sh version          print the version
#   scripts/maxwell-ref.sh options          print the name of every option Maxwell's parser
#                                           accepts (deprecated ones too), read from its
#                                           MaxwellConfig class with javap
# The newest Maxwell on Maven Central is 1.22.6 (later releases are published elsewhere). To
# run it on this machine's Java 17:
#  - its kafka-clients 1.0.0 cannot talk to Kafka 4 brokers (they dropped protocol versions
#    older than 2.1), so kafka-clients 3.7.1 is put in its place (Maxwell uses only the plain
#    producer API);
#  - it names the class jdk.nashorn.api.scripting.ScriptObjectMirror (JavaScript filters) in
#    an `instanceof` test on every value, and Nashorn left the JDK in Java 15: an empty class of
#    that name, compiled here at install, lets the test answer false (no JavaScript filter is
#    used). Nothing else is changed.
#  - it does not know MariaDB's charset name `utf8mb3` (10.6+): the side-by-side instance runs
#    with old_mode='' so that `utf8` means utf8mb4 (see scripts/side-by-side.sh).
source "$(dirname "$0")/common.sh"
VERSION=1.22.6
KAFKA_CLIENTS=3.7.1
CACHE="${MAXWELL_REF_CACHE:-$HOME/.cache/maxwell-ha/maxwell-$VERSION}"
LIB="$CACHE/lib"

install() {
  [ -f "$LIB/.complete" ] && return 0
  maven_runtime_jars "$CACHE" "$LIB" "Maxwell $VERSION" "\
    <dependency>
      <groupId>com.zendesk</groupId><artifactId>maxwell</artifactId><version>$VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$KAFKA_CLIENTS</version></dependency>"
  local shim="$CACHE/shim"
  rm -rf "$shim"; mkdir -p "$shim/src/jdk/nashorn/api/scripting" "$shim/classes"
  printf 'package jdk.nashorn.api.scripting;\npublic final class ScriptObjectMirror { private ScriptObjectMirror() {} }\n' \
    > "$shim/src/jdk/nashorn/api/scripting/ScriptObjectMirror.java"
  javac -d "$shim/classes" "$shim/src/jdk/nashorn/api/scripting/ScriptObjectMirror.java"
  (cd "$shim/classes" && jar cf "$LIB/zz-nashorn-instanceof-shim.jar" .)
  touch "$LIB/.complete"
}

# Every `parser.accepts("name", …)` of MaxwellConfig: the first string constant loaded after
# the previous call is the option's name.
options() {
  install
  local jar; jar=$(ls "$LIB"/maxwell-"$VERSION".jar)
  javap -c -constants -cp "$jar" com.zendesk.maxwell.MaxwellConfig | awk '
    /invoke/ && /OptionParser.accepts/ { if (name != "" && name !~ /^__separator/) print name }
    /invoke/ { name = ""; next }
    /ldc/ && /\/\/ String / && name == "" { sub(/.*\/\/ String /, ""); name = $0 }
  ' | sort -u
}

case "${1:-}" in
  install) install ;;
  options) options ;;
  run) shift; install; exec java -Xmx1g -cp "$LIB/*" com.zendesk.maxwell.Maxwell "$@" ;;
  version) echo "$VERSION" ;;
  *) echo "usage: $0 install|run ARGS...|options|version" >&2; exit 2 ;;
esac
