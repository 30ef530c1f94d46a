/**
 * A quote captured from swtpm 0.7.1 with tpm2-tools 5.4 (libs/attestation/test/capture-swtpm-quote.sh):
 *   tpm2_pcrextend 4:sha256=<sha256("a")>
 *   tpm2_quote -c ak.ctx -l sha256:0,4 -q 00112233..eeff00112233..eeff -m quote.msg -s quote.sig -g sha256
 * Real TPM output, so the parser and verifier are tested against it even where swtpm is absent.
 */
export const SWTPM_VECTOR = {
  quoteHex:
    'ff54434780180022000b6a740a85e55a35033d4d8cea9c6bf6e74fd241e5706c15cb3272015c22bd6f0f0020' +
    '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff' +
    '000000000000004a000000010000000001201910230016363600000001000b031100000020' +
    'fffbb2d00117026d8db3f4bca42c90a69b01c1c293e0b1b9d427f9403e138b37',
  signatureHex:
    '0018000b00204ecdb392ad9b086c665e27ed8159d2771a9bebfc2dab6d73a828b80c78564c09' +
    '0020a54554608d50500deb738c7e123adeeff137cb22c8ee72c2a08d4f9bd468b935',
  akPublicKeyPem: [
    '-----BEGIN PUBLIC KEY-----',
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqu+X6dUKbyGhx4xPUJLK5xM+doAL',
    'MMic+dwvFLwOfbLImRPsDJvFSuGtbp2HpL0Z/1wuJZHTMrX4mh2J8NTjVA==',
    '-----END PUBLIC KEY-----',
    '',
  ].join('\n'),
  nonceHex: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
  pcrs: { '4': '8c374a53782642f7514d087d26a3e733f1b806009a03e04a43b288ef2fa9f9c0' },
};
