import { deviceTopic, parseDeviceTopic } from '@fleetguard/common';
import { checkPublish, checkSubscribe } from './topic-acl';

describe('topic ACL', () => {
  it('lets a device publish evidence, hardening and status under its own id', () => {
    for (const k of ['evidence', 'hardening', 'status'] as const) expect(checkPublish('dev-1', deviceTopic('dev-1', k)).ok).toBe(true);
  });
  it.each([
    ['another device', 'fleet/v1/devices/dev-2/evidence', /another device/],
    ['a service-only topic', 'fleet/v1/devices/dev-1/result', /may not publish to 'result'/],
    ['a foreign prefix', 'other/dev-1/evidence', /outside/],
    ['a deeper topic', 'fleet/v1/devices/dev-1/evidence/x', /outside/],
    ['an empty id', 'fleet/v1/devices//evidence', /outside/],
  ])('refuses publishing to %s', (_w, topic, reason) => {
    const v = checkPublish('dev-1', topic);
    expect(v.ok).toBe(false);
    expect((v as { reason: string }).reason).toMatch(reason);
  });
  it('lets a device subscribe to its challenge and result only', () => {
    expect(checkSubscribe('dev-1', deviceTopic('dev-1', 'challenge')).ok).toBe(true);
    expect(checkSubscribe('dev-1', deviceTopic('dev-1', 'result')).ok).toBe(true);
    expect(checkSubscribe('dev-1', 'fleet/v1/devices/dev-2/challenge').ok).toBe(false);
    expect(checkSubscribe('dev-1', 'fleet/v1/devices/+/challenge').ok).toBe(false);
    expect(checkSubscribe('dev-1', '#').ok).toBe(false);
    expect(checkSubscribe('dev-1', 'fleet/v1/devices/dev-1/evidence').ok).toBe(false);
  });
  it('parses device topics', () => {
    expect(parseDeviceTopic('fleet/v1/devices/abc/status')).toEqual({ deviceId: 'abc', kind: 'status' });
    expect(parseDeviceTopic('fleet/v1/devices/abc')).toBeNull();
  });
});
