#!/bin/sh
# Captures a real TPM 2.0 quote from swtpm, as used in src/core/tpm-quote.vectors.ts.
# Needs: swtpm swtpm-tools tpm2-tools (Debian). Usage: capture-swtpm-quote.sh [port]
# Prints the quote (TPMS_ATTEST), signature (TPMT_SIGNATURE, tpm2_quote default format), the AK
# public key (PEM), the nonce and the PCR values, then stops the TPM it started.
set -eu
PORT="${1:-23210}"
DIR="$(mktemp -d /tmp/fleetguard-capture.XXXXXX)"   # absolute: swtpm needs it
mkdir "$DIR/state"
swtpm socket --tpmstate dir="$DIR/state" --tpm2 \
  --server type=tcp,port="$PORT",bindaddr=127.0.0.1 --ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
  --flags not-need-init,startup-clear --daemon --pid file="$DIR/swtpm.pid"
trap 'kill "$(cat "$DIR/swtpm.pid")" 2>/dev/null || true; rm -rf "$DIR"' EXIT
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"
cd "$DIR"
NONCE=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
tpm2_createek -c ek.ctx -G ecc -u ek.pub >/dev/null
tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pem -n ak.name -f pem >/dev/null
tpm2_flushcontext -t
tpm2_pcrextend 4:sha256="$(printf a | sha256sum | cut -d' ' -f1)"
tpm2_quote -c ak.ctx -l sha256:0,4 -q "$NONCE" -m quote.msg -s quote.sig -g sha256 >/dev/null
echo "quoteHex:     $(od -An -v -tx1 quote.msg | tr -d ' \n')"
echo "signatureHex: $(od -An -v -tx1 quote.sig | tr -d ' \n')"
echo "nonceHex:     $NONCE"
cat ak.pem
tpm2_pcrread sha256:0,4
