import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { WorkerLanes, laneWorkerPort, ownBytes } from './worker-lanes';

/** A worker (plain JS, as the pools' compiled files are) that answers each job by what it says. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
parentPort.on('message', (jobs) => {
  if (jobs.some((j) => j.say === 'mark')) return parentPort.postMessage(jobs.map((j) => ({ id: j.id, said: workerData.fleetguardWorkerLaneFile === __filename ? 'marked' : 'unmarked' })));
  if (jobs.some((j) => j.say === 'crash')) throw new Error('worker crashed');
  const answer = jobs.filter((j) => j.say !== 'hang').map((j) => ({ id: j.id, said: j.say, batch: jobs.length, thread: require('node:worker_threads').threadId }));
  if (answer.length) parentPort.postMessage(answer);
});`;

type Job = { id: number; say: string };
type Reply = { id: number; said: string; batch: number; thread: number };

describe('WorkerLanes', () => {
  let dir: string;
  let file: string;
  let lanes: WorkerLanes<Job, Reply>;
  let id = 1;
  const job = (say: string) => lanes.run({ id: id++, say });
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'worker-lanes-'));
    file = join(dir, 'worker.js');
    writeFileSync(file, WORKER);
  });
  afterEach(async () => lanes.close(0));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends one turn of jobs to a worker in one message, and each job gets its own reply', async () => {
    lanes = new WorkerLanes<Job, Reply>(file, 1, { encode: (q) => q, newState: () => undefined });
    const replies = await Promise.all(['a', 'b', 'c'].map(job));
    expect(replies.map((r) => r.said)).toEqual(['a', 'b', 'c']);
    expect(replies.map((r) => r.batch)).toEqual([3, 3, 3]);
  });

  it('gives a job to the worker with the fewest unanswered', async () => {
    lanes = new WorkerLanes<Job, Reply>(file, 2, { encode: (q) => q, newState: () => undefined });
    void job('hang').catch(() => undefined); // holds the first worker
    const r = await job('b');
    const again = await job('c');
    expect(again.thread).toBe(r.thread);
  });

  it('starts its workers marked with their file, so a pool file answers only in its own workers (laneWorkerPort)', async () => {
    lanes = new WorkerLanes<Job, Reply>(file, 1, { encode: (q) => q, newState: () => undefined });
    expect((await job('mark')).said).toBe('marked');
    expect(laneWorkerPort(file)).toBeNull(); // the main thread
  });

  it('fails the jobs of a worker that dies and replaces it', async () => {
    lanes = new WorkerLanes<Job, Reply>(file, 1, { encode: (q) => q, newState: () => undefined });
    await expect(job('crash')).rejects.toThrow('worker crashed');
    expect((await job('after')).said).toBe('after');
  });

  it('close fails what the workers still hold instead of leaving it waiting', async () => {
    lanes = new WorkerLanes<Job, Reply>(file, 1, { encode: (q) => q, newState: () => undefined });
    const held = job('hang');
    await lanes.close(50);
    await expect(held).rejects.toThrow('the workers stopped');
  });
});

describe('ownBytes', () => {
  it('gives a view into a larger buffer (a pooled Buffer) its own bytes, which alone cross to another thread', async () => {
    const pooled = Buffer.from('0a0b0c0d', 'hex');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    const own = ownBytes(pooled);
    expect(own.buffer.byteLength).toBe(4);
    expect(Buffer.from(own).equals(pooled)).toBe(true);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<{ own: Uint8Array; pooled: Uint8Array }>((resolve) => port2.once('message', resolve));
    port1.postMessage({ own, pooled });
    const got = await received;
    port1.close();
    expect(got.own.buffer.byteLength).toBe(4);
    expect(got.pooled.buffer.byteLength).toBe(pooled.buffer.byteLength);
    expect([...got.own]).toEqual([0x0a, 0x0b, 0x0c, 0x0d]);
  });

  it('returns a view that is its whole buffer as it is', () => {
    const whole = new Uint8Array([1, 2, 3]);
    expect(ownBytes(whole)).toBe(whole);
  });
});
