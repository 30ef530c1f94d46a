import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { InboundDispatcher, MqttInbound, type InboundOutcome } from './inbound.dispatcher';

/** Handlers as the libs write them: methods of their providers, marked with the kind they take. */
@Injectable()
class EvidenceDesk {
  readonly seen: Array<{ deviceId: string; payload: string }> = [];
  next: InboundOutcome | Error = { ack: true };

  @MqttInbound('evidence')
  async receive(deviceId: string, payload: Buffer): Promise<InboundOutcome> {
    this.seen.push({ deviceId, payload: payload.toString() });
    if (this.next instanceof Error) throw this.next;
    return this.next;
  }

  /** Not marked: never called by the dispatcher. */
  async other(): Promise<InboundOutcome> {
    throw new Error('not a handler');
  }
}

@Injectable()
class PresenceDesk {
  readonly seen: string[] = [];

  @MqttInbound('status')
  async present(deviceId: string): Promise<InboundOutcome> {
    this.seen.push(deviceId);
    return { ack: true };
  }
}

@Injectable()
class SecondEvidenceDesk {
  @MqttInbound('evidence')
  async receive(): Promise<InboundOutcome> {
    return { ack: true };
  }
}

async function dispatcherWith(...providers: Array<new (...args: never[]) => object>) {
  const module = await Test.createTestingModule({ imports: [DiscoveryModule], providers: [InboundDispatcher, ...providers] }).compile();
  await module.init();
  return module;
}

describe('InboundDispatcher', () => {
  it('finds the marked methods at boot and hands each kind to its handler, with what the broker does with the outcome', async () => {
    const module = await dispatcherWith(EvidenceDesk, PresenceDesk);
    const dispatcher = module.get(InboundDispatcher);
    const evidence = module.get(EvidenceDesk);
    const presence = module.get(PresenceDesk);
    expect(dispatcher.kinds().sort()).toEqual(['evidence', 'status']);

    expect(await dispatcher.dispatch('dev-1', 'evidence', Buffer.from('{"evidence":"a.b.c"}'))).toEqual({ puback: true });
    expect(evidence.seen).toEqual([{ deviceId: 'dev-1', payload: '{"evidence":"a.b.c"}' }]);
    expect(await dispatcher.dispatch('dev-2', 'status', Buffer.from('{}'))).toEqual({ puback: true });
    expect(presence.seen).toEqual(['dev-2']);

    evidence.next = { ack: false, code: 'bad-json', message: 'not JSON' };
    expect(await dispatcher.dispatch('dev-1', 'evidence', Buffer.from('x'))).toEqual({ puback: true, refusal: { code: 'bad-json', message: 'not JSON' } });
    evidence.next = { ack: false, busy: true, code: 'overloaded', message: 'the appraisal queue is full' };
    expect(await dispatcher.dispatch('dev-1', 'evidence', Buffer.from('y'))).toEqual({ puback: false, message: 'the appraisal queue is full' });
    evidence.next = new Error('database down');
    expect(await dispatcher.dispatch('dev-1', 'evidence', Buffer.from('z'))).toEqual({ puback: false, message: 'temporarily unable to store the message' });

    // NUL cannot be stored: refused (and acknowledged) before any handler sees it.
    const before = evidence.seen.length;
    expect(await dispatcher.dispatch('dev-1', 'evidence', Buffer.from('{"evidence":"a\\u0000"}'))).toEqual({ puback: true, refusal: { code: 'nul-character', message: 'payloads may not contain NUL characters' } });
    expect(await dispatcher.dispatch('dev-1', 'evidence', Buffer.from([0x7b, 0x00, 0x7d]))).toMatchObject({ puback: true, refusal: { code: 'nul-character' } });
    expect(evidence.seen.length).toBe(before);

    // A kind nobody handles is acknowledged and dropped.
    expect(await dispatcher.dispatch('dev-1', 'hardening', Buffer.from('{}'))).toEqual({ puback: true });
    await module.close();
  });

  it('refuses to boot with two handlers for one kind', async () => {
    await expect(dispatcherWith(EvidenceDesk, SecondEvidenceDesk)).rejects.toThrow("two handlers for MQTT inbound 'evidence': EvidenceDesk.receive and SecondEvidenceDesk.receive");
  });
});
