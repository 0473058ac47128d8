#!/usr/bin/env bash
# Test certificates for trying a Kafka cluster by hand (docs/research/kafka-4.4-cluster.md).
# The console issues its own in Rust (app/src/server/broker/tls.rs, rcgen); these only mimic
# them: EC P-256 keys written as unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), as rcgen's
# KeyPair::generate() + serialize_pem() do. Not used by the console or the tests.
#
#   kafka/dev-certs.sh DIR
#
# DIR/ca.pem            the environment's CA (CA:true, pathlen 0)
# DIR/broker.pem        CN=broker, serverAuth+clientAuth, SAN 127.0.0.1/localhost: the nodes'
#                       INTERNAL and CONTROLLER listeners, as server and as client
# DIR/client-listener.pem  CN=localhost, serverAuth only (like Authority::issue): CLIENT listener
# DIR/console.pem       CN=byoc-console, clientAuth: the console on the INTERNAL listener
# DIR/broker-serveronly.pem CN=broker but serverAuth only: shows that mTLS needs clientAuth
# DIR/*-rsa.pem, *-sec1.pem: the same broker key in other encodings, to see what Kafka accepts
# Each NAME.pem holds the PKCS#8 key then the certificate (a PEM key store in one file);
# NAME.key and NAME.crt hold them apart.
set -euo pipefail
dir=${1:?usage: dev-certs.sh DIR}
mkdir -p "$dir"; cd "$dir"

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ec_key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=BYOC environment console CA/O=BYOC environment console" \
  -addext "basicConstraints=critical,CA:true,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out ca.pem

# issue NAME SUBJECT EKU [SAN] [KEYFILE]
issue() {
  local name=$1 subj=$2 eku=$3 san=${4:-} key=${5:-$1.key}
  [ -f "$key" ] || ec_key "$key"
  local ext
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:false"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    echo "authorityKeyIdentifier=keyid"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$ext"
  openssl req -new -key "$key" -subj "$subj" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -sha256 \
    -extfile "$ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$ext"
  [ "$key" = "$name.key" ] || cp "$key" "$name.key"
  cat "$name.key" "$name.crt" > "$name.pem"
}

issue broker "/CN=broker" "serverAuth,clientAuth" "IP:127.0.0.1,DNS:localhost"
issue client-listener "/CN=localhost" "serverAuth" "IP:127.0.0.1,DNS:localhost"
issue console "/CN=byoc-console" "clientAuth"
issue broker-serveronly "/CN=broker" "serverAuth" "IP:127.0.0.1,DNS:localhost"

# Other key encodings of a key store, for the format test.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out broker-rsa.key 2>/dev/null
issue broker-rsa "/CN=broker" "serverAuth,clientAuth" "IP:127.0.0.1,DNS:localhost" broker-rsa.key
openssl ec -in broker.key -out broker-sec1.key 2>/dev/null          # BEGIN EC PRIVATE KEY
cat broker-sec1.key broker.crt > broker-sec1.pem
openssl rsa -in broker-rsa.key -traditional -out broker-pkcs1.key 2>/dev/null  # BEGIN RSA PRIVATE KEY
cat broker-pkcs1.key broker-rsa.crt > broker-pkcs1.pem
chmod 600 ./*.key ./*.pem
echo "certificates in $dir"
