#!/usr/bin/env bash
# Installs the Apache Kafka that the console runs (kafka/pom.xml: Kafka 4.4.0, its tools, the
# log4j2 backend and Prometheus' JMX agent) outside the repository, once:
#
#   $BYOC_KAFKA_HOME/libs/*.jar                    every jar a node needs (java -cp 'libs/*')
#   $BYOC_KAFKA_HOME/config/log4j2.yaml            from kafka/ (-Dlog4j2.configurationFile)
#   $BYOC_KAFKA_HOME/config/jmx-exporter.yaml      from kafka/ (the -javaagent's configuration)
#   $BYOC_KAFKA_HOME/.stamp                        hash of the three files above
#
# BYOC_KAFKA_HOME defaults to ~/.local/share/byoc/kafka-4.4.0. Maven Central only, with strict
# checksums; nothing is downloaded at run time. Safe to run again: skips when the stamp matches.
# Needs Java >= 17 (installs Debian's openjdk-17-jre-headless when missing or older) and Maven
# (Debian's maven when missing). scripts/setup.sh calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[fetch_kafka] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; exit 1; fi
}

apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# The major version of `java` on PATH (8 for "1.8.0_x", 17 for "17.0.15"), 0 when there is none.
java_major() {
  local v
  v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}') || true
  case "$v" in
    "") echo 0 ;;
    1.*) echo "$v" | cut -d. -f2 ;;
    *) echo "${v%%[.+-]*}" ;;
  esac
}

KAFKA_HOME=${BYOC_KAFKA_HOME:-$HOME/.local/share/byoc/kafka-4.4.0}
sources=(kafka/pom.xml kafka/log4j2.yaml kafka/jmx-exporter.yaml)
want=$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1)

# --- Java 17 or newer ---------------------------------------------------------------------------
major=$(java_major)
if [ "$major" -lt 17 ]; then
  log "java ${major/#0/missing} is older than 17: installing openjdk-17-jre-headless"
  apt_install openjdk-17-jre-headless
  major=$(java_major)
  if [ "$major" -lt 17 ]; then
    # Another java earlier on PATH (or the alternatives link) still answers: point at 17.
    log "java on PATH is still $major; use /usr/lib/jvm/java-17-openjdk-*/bin/java"; exit 1
  fi
fi
log "java $major"

if [ -f "$KAFKA_HOME/.stamp" ] && [ "$(cat "$KAFKA_HOME/.stamp")" = "$want" ] &&
   [ -f "$KAFKA_HOME/libs/kafka_2.13-4.4.0.jar" ]; then
  log "Kafka 4.4.0 present ($KAFKA_HOME)"
  exit 0
fi

command -v mvn >/dev/null || { log "installing maven"; apt_install maven; }

# Copied next to the old libs/, then swapped in, so that a failed download leaves the old set.
mkdir -p "$KAFKA_HOME"
rm -rf "$KAFKA_HOME/libs.new"
log "fetching Kafka 4.4.0 and its dependencies from Maven Central into $KAFKA_HOME/libs"
mvn -q -B -Dstyle.color=never --strict-checksums -f kafka/pom.xml dependency:copy-dependencies \
  -DoutputDirectory="$KAFKA_HOME/libs.new"
[ -f "$KAFKA_HOME/libs.new/kafka_2.13-4.4.0.jar" ] || { log "kafka_2.13-4.4.0.jar missing after the copy"; exit 1; }
rm -rf "$KAFKA_HOME/libs.old"
[ ! -d "$KAFKA_HOME/libs" ] || mv "$KAFKA_HOME/libs" "$KAFKA_HOME/libs.old"
mv "$KAFKA_HOME/libs.new" "$KAFKA_HOME/libs"
rm -rf "$KAFKA_HOME/libs.old"
mkdir -p "$KAFKA_HOME/config"
cp kafka/log4j2.yaml kafka/jmx-exporter.yaml "$KAFKA_HOME/config/"
echo "$want" > "$KAFKA_HOME/.stamp"
log "Kafka 4.4.0: $(ls "$KAFKA_HOME/libs" | wc -l) jars, $(du -sh "$KAFKA_HOME/libs" | cut -f1) in $KAFKA_HOME"
