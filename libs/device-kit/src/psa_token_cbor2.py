#!/usr/bin/env python3
"""Builds a PSA attestation token (RFC 9783) with an encoder that is not Fleetguard's: the claims
are read from CBOR diagnostic notation (the subset the Veraison examples use: maps, arrays,
integers, text, h'hex'), encoded with Debian's python3-cbor2, wrapped in a COSE_Sign1 (tag 18),
and signed with `openssl dgst` (ECDSA; the DER signature is turned into COSE's r || s here).

usage: psa_token_cbor2.py --key IAK.pem [--alg ES256|ES384|ES512] [--untagged] < claims.diag
prints the token as base64url (no padding) on stdout.
"""
import argparse, base64, os, re, subprocess, sys, tempfile
import cbor2

TOKEN = re.compile(r"\s*(h'[0-9A-Fa-f\s]*'|\"(?:[^\"\\]|\\.)*\"|-?\d+|[{}\[\]:,])")


def parse_diag(text):
    toks, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise SystemExit(f"diag: cannot read at {pos}: {text[pos:pos+20]!r}")
        toks.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    it = iter(toks)
    look = [next(it, None)]

    def nxt():
        t = look[0]
        look[0] = next(it, None)
        return t

    def value():
        t = nxt()
        if t == '{':
            out = {}
            while look[0] != '}':
                k = value()
                assert nxt() == ':'
                out[k] = value()
                if look[0] == ',':
                    nxt()
            nxt()
            return out
        if t == '[':
            out = []
            while look[0] != ']':
                out.append(value())
                if look[0] == ',':
                    nxt()
            nxt()
            return out
        if t.startswith("h'"):
            return bytes.fromhex(re.sub(r"\s", "", t[2:-1]))
        if t.startswith('"'):
            return bytes(t[1:-1], 'utf-8').decode('unicode_escape')
        return int(t)

    return value()


def der_to_raw(der, size):
    # SEQUENCE { INTEGER r, INTEGER s }
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b''
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b'\x00')
        out += v.rjust(size, b'\x00')
        i += 2 + n
    return out


ALGS = {'ES256': (-7, 'sha256', 32), 'ES384': (-35, 'sha384', 48), 'ES512': (-36, 'sha512', 66)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--key', required=True)
    ap.add_argument('--alg', default='ES256', choices=sorted(ALGS))
    ap.add_argument('--untagged', action='store_true')
    a = ap.parse_args()
    alg, md, size = ALGS[a.alg]
    claims = parse_diag(sys.stdin.read())
    payload = cbor2.dumps(claims)
    protected = cbor2.dumps({1: alg})
    tbs = cbor2.dumps(['Signature1', protected, b'', payload])
    with tempfile.TemporaryDirectory() as d:
        tbs_path = os.path.join(d, 'tbs')
        with open(tbs_path, 'wb') as f:
            f.write(tbs)
        der = subprocess.run(['openssl', 'dgst', f'-{md}', '-sign', a.key, tbs_path], check=True, capture_output=True).stdout
    sign1 = [protected, {}, payload, der_to_raw(der, size)]
    token = cbor2.dumps(sign1 if a.untagged else cbor2.CBORTag(18, sign1))
    sys.stdout.write(base64.urlsafe_b64encode(token).decode().rstrip('='))


if __name__ == '__main__':
    main()
