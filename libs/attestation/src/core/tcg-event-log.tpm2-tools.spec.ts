/**
 * The parser and replay against tpm2-tools' `tpm2_eventlog` (an independent C implementation),
 * on every real log in ../shared/data/eventlogs: same events, same PCR values in every bank.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTcgEventLog, replayTcgEventLog } from './tcg-event-log.parser';
import { eventLogDirectory } from '@fleetguard/device-kit';

/** The `pcrs:` section of tpm2_eventlog's YAML: bank -> PCR -> hex. */
function tpm2EventlogPcrs(yaml: string): Record<string, Record<string, string>> {
  const section = yaml.slice(yaml.indexOf('\npcrs:'));
  const out: Record<string, Record<string, string>> = {};
  let bank = '';
  for (const line of section.split('\n')) {
    const b = /^ {2}(\w+):\s*$/.exec(line);
    if (b) {
      bank = b[1];
      out[bank] = {};
      continue;
    }
    const p = /^ {4}(\d+)\s*: 0x([0-9a-fA-F]+)\s*$/.exec(line);
    if (p && bank) out[bank][String(Number(p[1]))] = p[2].toLowerCase();
  }
  return out;
}

function tpm2EventlogEvents(yaml: string): { num: number; pcr: number; type: string }[] {
  const out: { num: number; pcr: number; type: string }[] = [];
  const re = /- EventNum: (\d+)\n\s+PCRIndex: (\d+)\n\s+EventType: (.+)\n/g;
  for (let m = re.exec(yaml); m; m = re.exec(yaml)) out.push({ num: Number(m[1]), pcr: Number(m[2]), type: m[3].trim() });
  return out;
}

const dir = eventLogDirectory();
const files = readdirSync(dir).filter((f) => f.endsWith('.bin')).sort();

describe('TCG event log against tpm2_eventlog', () => {
  it('has the real logs to compare', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  it.each(files)('%s: every bank replays to the PCRs tpm2_eventlog prints', (file) => {
    const path = join(dir, file);
    const yaml = execFileSync('tpm2_eventlog', [path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const theirs = tpm2EventlogPcrs(yaml);
    const log = parseTcgEventLog(readFileSync(path));
    const ours = replayTcgEventLog(log);
    expect(Object.keys(theirs).length).toBeGreaterThan(0);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const bank of Object.keys(theirs)) expect({ bank, pcrs: ours[bank] }).toEqual({ bank, pcrs: theirs[bank] });

    // Same events in the same order and PCRs (tpm2_eventlog numbers the Spec ID header 0, as we do).
    const events = tpm2EventlogEvents(yaml).filter((e) => e.num > 0);
    expect(events.map((e) => [e.num, e.pcr])).toEqual(log.events.map((e) => [e.index, e.pcr]));
    events.forEach((e, i) => {
      if (e.type.startsWith('EV_')) expect([e.num, log.events[i].typeName]).toEqual([e.num, e.type]);
    });
  });
});
