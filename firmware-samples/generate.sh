#!/usr/bin/env bash
# Regenerates the firmware samples in this folder: test keys, MCUboot images (good, tampered,
# wrong key, rollback, malformed), a detached image with its JWS manifests, and samples.json
# (file -> expected verdict) that the tests iterate over.
#
# Deliberately independent of the project's TypeScript code: python3 only packs the MCUboot
# structures and base64url/JSON text, every key, hash and signature comes from /usr/bin/openssl.
# That way a bug in libs/firmware cannot "agree with itself".
#
# Usage: firmware-samples/generate.sh [--new-keys]
#   Keys in keys/ are kept when they exist (so a regeneration does not churn them); --new-keys
#   makes fresh ones. THESE KEYS ARE PUBLIC TEST KEYS: never trust them in production.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OPENSSL="${OPENSSL:-/usr/bin/openssl}"
KEYS="$DIR/keys"

if [[ "${1:-}" == "--new-keys" ]]; then rm -f "$KEYS"/*.pem; fi
mkdir -p "$KEYS"

genkey() { # name, genpkey args...
  local name="$1"; shift
  if [[ ! -f "$KEYS/$name.pem" ]]; then
    "$OPENSSL" genpkey "$@" -out "$KEYS/$name.pem" 2>/dev/null
  fi
  "$OPENSSL" pkey -in "$KEYS/$name.pem" -pubout -out "$KEYS/$name.pub.pem"
}
genkey ec-p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
genkey other-p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
genkey ed25519 -algorithm ED25519
genkey rsa-3072 -algorithm RSA -pkeyopt rsa_keygen_bits:3072

rm -f "$DIR"/*.mcuboot.bin "$DIR"/*.bin "$DIR"/*.jws "$DIR/samples.json"

OPENSSL="$OPENSSL" python3 - "$DIR" <<'PY'
import base64, json, os, random, struct, subprocess, sys, tempfile

DIR = sys.argv[1]
OPENSSL = os.environ["OPENSSL"]
PRODUCT_ID = "prod-sample"
PRODUCT_MINIMUM = 5


def ossl(*args, data=None):
    return subprocess.run([OPENSSL, *args], input=data, check=True, capture_output=True).stdout


def ed25519_sign(name, message):
    # OpenSSL 3.0's pkeyutl needs a file (not a pipe) for one-shot EdDSA.
    with tempfile.NamedTemporaryFile() as f:
        f.write(message)
        f.flush()
        return ossl("pkeyutl", "-sign", "-rawin", "-inkey", key(name), "-in", f.name)


def key(name):
    return os.path.join(DIR, "keys", name + ".pem")


def pub(name):
    return os.path.join(DIR, "keys", name + ".pub.pem")


def sha256(data):
    return ossl("dgst", "-sha256", "-binary", data=data)


def spki_der(name):
    return ossl("pkey", "-pubin", "-in", pub(name), "-outform", "DER")


def pkcs1_der(name):
    return ossl("rsa", "-pubin", "-in", pub(name), "-RSAPublicKey_out", "-outform", "DER")


def key_id(name):
    return sha256(spki_der(name)).hex()


# --- MCUboot -----------------------------------------------------------------------------------
IMAGE_MAGIC = 0x96F3B83D
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
T_KEYHASH, T_SHA256, T_RSA2048_PSS, T_ECDSA_SIG, T_RSA3072_PSS, T_ED25519, T_SEC_CNT = (
    0x01, 0x10, 0x20, 0x22, 0x23, 0x24, 0x50)


def tlv(t, value):
    return struct.pack("<HH", t, len(value)) + value


def tlv_area(magic, tlvs):
    body = b"".join(tlvs)
    return struct.pack("<HH", magic, 4 + len(body)) + body


def header(hdr_size, prot_size, img_size, version, load_addr=0, flags=0):
    major, minor, revision, build = version
    h = struct.pack("<IIHHIIBBHII", IMAGE_MAGIC, load_addr, hdr_size, prot_size, img_size, flags,
                    major, minor, revision, build, 0)
    assert len(h) == 32
    return h + b"\x00" * (hdr_size - 32)


# How imgtool signs: ECDSA and RSA-PSS sign the SHA-256 of header+body+protected TLVs as a
# prehashed digest, which is exactly what `openssl dgst -sha256 -sign` over those bytes yields.
# Ed25519 signs the 32-byte hash itself as its message. imgtool's KEYHASH is the SHA-256 of the
# SubjectPublicKeyInfo DER for EC/Ed25519 and of the PKCS#1 RSAPublicKey DER for RSA.
SIGNERS = {
    "ec-p256": (T_ECDSA_SIG, lambda region, digest: ossl("dgst", "-sha256", "-sign", key("ec-p256"), data=region),
                lambda: sha256(spki_der("ec-p256"))),
    "other-p256": (T_ECDSA_SIG, lambda region, digest: ossl("dgst", "-sha256", "-sign", key("other-p256"), data=region),
                   lambda: sha256(spki_der("other-p256"))),
    "ed25519": (T_ED25519, lambda region, digest: ed25519_sign("ed25519", digest),
                lambda: sha256(spki_der("ed25519"))),
    "rsa-3072": (T_RSA3072_PSS, lambda region, digest: ossl("dgst", "-sha256", "-sign", key("rsa-3072"),
                                                           "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", data=region),
                 lambda: sha256(pkcs1_der("rsa-3072"))),
}


def body_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def mcuboot(body, version, signers, sec_cnt=None, hdr_size=32, extra_unprot=()):
    prot = tlv_area(TLV_PROT_INFO_MAGIC, [tlv(T_SEC_CNT, struct.pack("<I", sec_cnt))]) if sec_cnt is not None else b""
    region = header(hdr_size, len(prot), len(body), version, load_addr=0x8000) + body + prot
    digest = sha256(region)
    tlvs = [tlv(T_SHA256, digest)]
    for name in signers:
        sig_type, sign, keyhash = SIGNERS[name]
        tlvs += [tlv(T_KEYHASH, keyhash()), tlv(sig_type, sign(region, digest))]
    tlvs += list(extra_unprot)
    return {"region": region, "digest": digest, "hdr_size": hdr_size, "unprot_tlvs": tlvs,
            "image": region + tlv_area(TLV_INFO_MAGIC, tlvs)}


def write(name, data):
    with open(os.path.join(DIR, name), "wb") as f:
        f.write(data)
    return data


samples = []


def expect_ok(file, img, version, sec_cnt, signer, rollback, note):
    samples.append({
        "file": file, "format": "mcuboot", "expect": "ok", "note": note,
        "version": "%d.%d.%d+%d" % version, "securityCounter": sec_cnt,
        "digest": "sha256:" + img["digest"].hex(), "fileDigest": "sha256:" + sha256(img["image"]).hex(),
        "size": len(img["image"]), "signer": signer, "signerKeyId": key_id(signer), "rollback": rollback,
    })


def expect_err(file, code, note, fmt="mcuboot", manifest=None):
    entry = {"file": file, "format": fmt, "expect": code, "note": note}
    if manifest:
        entry["manifest"] = manifest
    samples.append(entry)


GOOD_VERSION = (1, 2, 3, 4)
ec = mcuboot(body_bytes(1, 5000), GOOD_VERSION, ["ec-p256"], sec_cnt=5, hdr_size=0x200)
write("good-ecdsa-p256.mcuboot.bin", ec["image"])
expect_ok("good-ecdsa-p256.mcuboot.bin", ec, GOOD_VERSION, 5, "ec-p256", "ok",
          "ECDSA P-256 (DER) signature, 0x200-byte header, SEC_CNT 5")

ed = mcuboot(body_bytes(2, 3001), GOOD_VERSION, ["ed25519"], sec_cnt=5)
write("good-ed25519.mcuboot.bin", ed["image"])
expect_ok("good-ed25519.mcuboot.bin", ed, GOOD_VERSION, 5, "ed25519", "ok", "Ed25519 signature over the image hash, SEC_CNT 5")

rsa = mcuboot(body_bytes(3, 4096), GOOD_VERSION, ["rsa-3072"], sec_cnt=5, hdr_size=0x100)
write("good-rsa-pss.mcuboot.bin", rsa["image"])
expect_ok("good-rsa-pss.mcuboot.bin", rsa, GOOD_VERSION, 5, "rsa-3072", "ok",
          "RSA-3072 PSS (salt 32) signature, KEYHASH over the PKCS#1 key, SEC_CNT 5")

multi = mcuboot(body_bytes(4, 777), GOOD_VERSION, ["other-p256", "ed25519"], sec_cnt=5)
write("good-multi-signed.mcuboot.bin", multi["image"])
expect_ok("good-multi-signed.mcuboot.bin", multi, GOOD_VERSION, 5, "ed25519", "ok",
          "two signatures: an untrusted key's first, then a trusted Ed25519 one")

nocnt = mcuboot(body_bytes(5, 1024), (0, 9, 0, 1), ["ec-p256"], sec_cnt=None)
write("good-no-counter.mcuboot.bin", nocnt["image"])
expect_ok("good-no-counter.mcuboot.bin", nocnt, (0, 9, 0, 1), None, "ec-p256", "missing-counter",
          "no protected TLV area, so no security counter")

ROLLBACK_VERSION = (1, 0, 0, 0)
rb = mcuboot(body_bytes(6, 2048), ROLLBACK_VERSION, ["ec-p256"], sec_cnt=2)
write("rollback.mcuboot.bin", rb["image"])
expect_ok("rollback.mcuboot.bin", rb, ROLLBACK_VERSION, 2, "ec-p256", "below-product-minimum",
          "valid signature, SEC_CNT 2 < the product minimum 5")

# Tampering, each from the good ECDSA image.
body_off = ec["hdr_size"] + 100
tampered = bytearray(ec["image"]); tampered[body_off] ^= 0x01
write("tampered-body.mcuboot.bin", bytes(tampered))
expect_err("tampered-body.mcuboot.bin", "mcuboot.hash-mismatch", "one body byte flipped, SHA256 TLV left as it was")

# Body changed AND the SHA256 TLV recomputed by the attacker: only the signature can tell.
region2 = bytearray(ec["region"]); region2[body_off] ^= 0x01
digest2 = sha256(bytes(region2))
tlvs2 = [tlv(T_SHA256, digest2)] + ec["unprot_tlvs"][1:]
write("tampered-hash.mcuboot.bin", bytes(region2) + tlv_area(TLV_INFO_MAGIC, tlvs2))
expect_err("tampered-hash.mcuboot.bin", "mcuboot.bad-signature", "body byte flipped and SHA256 TLV recomputed; the signature no longer matches")

sig_tlvs = list(ec["unprot_tlvs"])
sig = bytearray(sig_tlvs[2][4:]); sig[-1] ^= 0x01  # last byte of s: still well-formed DER
sig_tlvs[2] = tlv(T_ECDSA_SIG, bytes(sig))
write("tampered-signature.mcuboot.bin", ec["region"] + tlv_area(TLV_INFO_MAGIC, sig_tlvs))
expect_err("tampered-signature.mcuboot.bin", "mcuboot.bad-signature", "last byte of the ECDSA signature flipped")

wk = mcuboot(body_bytes(1, 5000), GOOD_VERSION, ["other-p256"], sec_cnt=5, hdr_size=0x200)
write("wrong-key.mcuboot.bin", wk["image"])
expect_err("wrong-key.mcuboot.bin", "mcuboot.unknown-key", "validly signed by keys/other-p256.pem, which is not trusted")

unsigned = mcuboot(body_bytes(7, 600), GOOD_VERSION, [], sec_cnt=5)
write("unsigned.mcuboot.bin", unsigned["image"])
expect_err("unsigned.mcuboot.bin", "mcuboot.no-signature", "only a SHA256 TLV, no signature")

write("truncated.mcuboot.bin", ed["image"][: len(ed["image"]) // 2])
expect_err("truncated.mcuboot.bin", "mcuboot.truncated", "the good Ed25519 image cut in the middle of its body")

write("trailing-data.mcuboot.bin", ed["image"] + b"\x00" * 16)
expect_err("trailing-data.mcuboot.bin", "mcuboot.trailing-data", "the good Ed25519 image followed by 16 zero bytes")

bm = bytearray(ed["image"]); bm[0:4] = struct.pack("<I", 0x96F3B83C)
write("bad-magic.mcuboot.bin", bytes(bm))
expect_err("bad-magic.mcuboot.bin", "mcuboot.bad-magic", "header magic 0x96f3b83c")

uc = mcuboot(body_bytes(8, 900), GOOD_VERSION, ["ec-p256"], sec_cnt=5, extra_unprot=[tlv(T_SEC_CNT, struct.pack("<I", 9))])
write("unprotected-counter.mcuboot.bin", uc["image"])
expect_err("unprotected-counter.mcuboot.bin", "mcuboot.unprotected-tlv", "a second SEC_CNT (9) in the unprotected, unsigned TLV area")

lie = bytearray(ed["image"])
unprot_off = len(ed["region"])
struct.pack_into("<H", lie, unprot_off + 4 + 2, 0x1000)  # SHA256 TLV says 4096 bytes
write("lying-tlv-length.mcuboot.bin", bytes(lie))
expect_err("lying-tlv-length.mcuboot.bin", "mcuboot.length-mismatch", "SHA256 TLV length field says 4096, past the end of its area")

lie2 = bytearray(ed["image"])
prot_size = struct.unpack_from("<H", lie2, 10)[0]
struct.pack_into("<H", lie2, 10, prot_size + 4)  # the protected area's own tlv_tot still says prot_size
write("lying-header.mcuboot.bin", bytes(lie2))
expect_err("lying-header.mcuboot.bin", "mcuboot.length-mismatch",
           "header protect_tlv_size (%d) disagrees with the protected area's tlv_tot (%d)" % (prot_size + 4, prot_size))


# --- Detached image + JWS manifest -------------------------------------------------------------
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_ecdsa_to_raw(der):
    # ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, P-256 so all lengths are short form.
    assert der[0] == 0x30 and der[1] == len(der) - 2
    out, i = b"", 2
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(32, "big")
        i += 2 + n
    assert i == len(der)
    return out


def jws(signer, header, payload):
    si = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(payload, separators=(",", ":")).encode())
    if header["alg"] == "ES256":
        sig = der_ecdsa_to_raw(ossl("dgst", "-sha256", "-sign", key(signer), data=si.encode()))
    else:
        sig = ed25519_sign(signer, si.encode())
    return si + "." + b64u(sig)


def write_text(name, text):
    with open(os.path.join(DIR, name), "w") as f:
        f.write(text + "\n")


good = write("good.bin", body_bytes(9, 40000))
payload = {"productId": PRODUCT_ID, "version": "2.0.1", "securityCounter": 5,
           "digest": "sha256:" + sha256(good).hex(), "size": len(good)}


def expect_detached_ok(file, manifest, signer, sec_cnt, rollback, note):
    samples.append({
        "file": file, "manifest": manifest, "format": "detached", "expect": "ok", "note": note,
        "version": payload["version"], "securityCounter": sec_cnt, "digest": payload["digest"],
        "fileDigest": payload["digest"], "size": len(good), "signer": signer, "signerKeyId": key_id(signer),
        "rollback": rollback,
    })


write_text("good.manifest.jws", jws("ec-p256", {"alg": "ES256", "kid": key_id("ec-p256")}, payload))
expect_detached_ok("good.bin", "good.manifest.jws", "ec-p256", 5, "ok", "ES256 manifest with kid")

write_text("good-eddsa.manifest.jws", jws("ed25519", {"alg": "EdDSA"}, payload))
expect_detached_ok("good.bin", "good-eddsa.manifest.jws", "ed25519", 5, "ok", "EdDSA manifest without kid: every trusted key is tried")

rb_payload = dict(payload, version="1.9.0", securityCounter=2)
write_text("rollback.manifest.jws", jws("ec-p256", {"alg": "ES256", "kid": key_id("ec-p256")}, rb_payload))
samples.append({
    "file": "good.bin", "manifest": "rollback.manifest.jws", "format": "detached", "expect": "ok",
    "note": "valid manifest with securityCounter 2 < the product minimum 5", "version": "1.9.0",
    "securityCounter": 2, "digest": payload["digest"], "fileDigest": payload["digest"], "size": len(good),
    "signer": "ec-p256", "signerKeyId": key_id("ec-p256"), "rollback": "below-product-minimum",
})

t = bytearray(good); t[12345] ^= 0x80
write("tampered.bin", bytes(t))
expect_err("tampered.bin", "manifest.digest-mismatch", "good.bin with one byte changed, same manifest", "detached", "good.manifest.jws")

write("short.bin", good[:-1])
expect_err("short.bin", "manifest.size-mismatch", "good.bin without its last byte, same manifest", "detached", "good.manifest.jws")

write_text("wrong-key.manifest.jws", jws("other-p256", {"alg": "ES256", "kid": key_id("other-p256")}, payload))
expect_err("good.bin", "manifest.unknown-key", "signed by keys/other-p256.pem (its own kid), which is not trusted", "detached", "wrong-key.manifest.jws")

write_text("forged-kid.manifest.jws", jws("other-p256", {"alg": "ES256", "kid": key_id("ec-p256")}, payload))
expect_err("good.bin", "manifest.bad-signature", "signed by keys/other-p256.pem but claiming the trusted key's kid", "detached", "forged-kid.manifest.jws")

write_text("other-product.manifest.jws", jws("ec-p256", {"alg": "ES256", "kid": key_id("ec-p256")}, dict(payload, productId="prod-other")))
expect_err("good.bin", "manifest.product-mismatch", "valid signature, but for productId prod-other", "detached", "other-product.manifest.jws")

keys = {}
for name in ["ec-p256", "ed25519", "rsa-3072", "other-p256"]:
    keys[name] = {"private": "keys/%s.pem" % name, "public": "keys/%s.pub.pem" % name, "keyId": key_id(name)}
keys["rsa-3072"]["mcubootKeyHashPkcs1"] = sha256(pkcs1_der("rsa-3072")).hex()

with open(os.path.join(DIR, "samples.json"), "w") as f:
    json.dump({
        "productId": PRODUCT_ID,
        "productMinimumSecurityCounter": PRODUCT_MINIMUM,
        "trustedKeys": ["ec-p256", "ed25519", "rsa-3072"],
        "keys": keys,
        "samples": samples,
    }, f, indent=2)
    f.write("\n")
print("firmware-samples: %d samples written to %s" % (len(samples), DIR))
PY
