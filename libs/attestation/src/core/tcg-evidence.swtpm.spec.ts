/**
 * A real TPM (swtpm + tpm2-tools) measures a real boot log's digests in every bank; its PCRs
 * must equal our replay, and its quote over sha1 + sha256 must satisfy the TCG appraisal.
 */
import { randomBytes } from 'node:crypto';
import { recordGoldenBootState } from './measured-boot.policy';
import { parseTcgEventLog, replayTcgEventLog } from './tcg-event-log.parser';
import { appraiseTcgBoot } from './tcg-evidence.appraisal';
import { EV } from './tcg-event.decoders';
import { realEventLog, alterTcgEvent, LINUX_BOOT_SELECTION, SwtpmAk, SwtpmDriver } from '@fleetguard/device-kit';

jest.setTimeout(60_000);
const describeTpm = SwtpmDriver.isAvailable() ? describe : describe.skip;

describeTpm('TCG boot log measured into swtpm', () => {
  let tpm: SwtpmDriver;
  let ak: SwtpmAk;
  const bytes = realEventLog('ubuntu-qemu.bin');
  const log = parseTcgEventLog(bytes);

  beforeAll(async () => {
    tpm = await SwtpmDriver.start();
    ak = await tpm.createAk('ak');
    await tpm.extendBanks(log.events.filter((e) => e.type !== EV.NO_ACTION));
  });
  afterAll(async () => tpm?.stop());

  it('the TPM holds, in both banks, the PCR values our replay computes', async () => {
    const ours = replayTcgEventLog(log);
    for (const bank of ['sha1', 'sha256']) {
      const theirs = await tpm.readBank(bank, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14]);
      expect({ bank, pcrs: theirs }).toEqual({ bank, pcrs: ours[bank] });
    }
  });

  it("the TPM's quote matches the log and the golden state; an altered log does not match the quote", async () => {
    const nonce = randomBytes(32);
    const quote = await tpm.quoteBanks(ak, LINUX_BOOT_SELECTION, nonce);
    const golden = recordGoldenBootState(log);
    const good = appraiseTcgBoot({ log: bytes, tpm: quote, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, golden, policy: null });
    expect(good.findings).toEqual([]);
    expect(good.bootApproved).toBe(true);

    const altered = appraiseTcgBoot({ log: alterTcgEvent(bytes, 25), tpm: quote, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, golden, policy: null });
    expect(altered.findings.map((f) => f.code)).toEqual(['tpm-pcr-digest-mismatch', 'event-differs-from-golden-state']);
    const wrongNonce = appraiseTcgBoot({ log: bytes, tpm: quote, akPublicKey: ak.publicKeyPem, expectedNonce: randomBytes(32), golden, policy: null });
    expect(wrongNonce.findings.map((f) => f.code)).toEqual(['tpm-nonce-mismatch']);
    expect(wrongNonce.bootApproved).toBe(false);
  });
});
