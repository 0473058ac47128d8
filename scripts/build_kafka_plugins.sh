#!/usr/bin/env bash
# Builds the console's Kafka plug-ins (kafka/plugins/*/pom.xml: small Java modules for Kafka's
# own plug-in points, each with its unit tests) and puts each jar beside Kafka's jars in
# $BYOC_KAFKA_HOME/libs, where every node's classpath (`libs/*`) finds it:
#
#   kafka/plugins/NAME/  ->  $BYOC_KAFKA_HOME/libs/byoc-NAME.jar
#
# Maven Central only, strict checksums; `mvn package` runs the module's tests. Safe to run
# again: a module is skipped while the hash of its sources matches its stamp
# ($BYOC_KAFKA_HOME/plugins/NAME.stamp) and its jar is in libs/. Needs a JDK 17 (javac; Debian's
# openjdk-17-jdk-headless where missing) and Maven. scripts/setup.sh calls it after
# scripts/fetch_kafka.sh (which replaces libs/ when Kafka's own list changes).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[build_kafka_plugins] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; exit 1; fi
}

KAFKA_HOME=${BYOC_KAFKA_HOME:-$HOME/.local/share/byoc/kafka-4.4.0}
[ -d "$KAFKA_HOME/libs" ] || { log "no $KAFKA_HOME/libs: run scripts/fetch_kafka.sh first"; exit 1; }
mkdir -p "$KAFKA_HOME/plugins"

shopt -s nullglob
modules=(kafka/plugins/*/pom.xml)
[ ${#modules[@]} -gt 0 ] || { log "no plug-ins"; exit 0; }

if ! command -v javac >/dev/null; then
  log "installing openjdk-17-jdk-headless (javac)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless
fi
command -v mvn >/dev/null || {
  log "installing maven"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven
}

for pom in "${modules[@]}"; do
  dir=$(dirname "$pom")
  name=$(basename "$dir")
  jar="$KAFKA_HOME/libs/byoc-$name.jar"
  stamp="$KAFKA_HOME/plugins/$name.stamp"
  want=$(find "$dir" -path "$dir/target" -prune -o -type f -print | LC_ALL=C sort |
    xargs sha256sum | sha256sum | cut -d' ' -f1)
  if [ -f "$jar" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$name present"
    continue
  fi
  log "building $name (mvn package, with its tests)"
  mvn -q -B -Dstyle.color=never --strict-checksums -f "$pom" package
  built=$(ls "$dir"/target/*.jar | grep -v -e '-sources.jar$' -e '-tests.jar$' | head -1)
  [ -n "$built" ] || { log "$name: no jar in $dir/target"; exit 1; }
  cp "$built" "$jar.new" && mv "$jar.new" "$jar"
  echo "$want" > "$stamp"
  log "$name -> $jar"
done
