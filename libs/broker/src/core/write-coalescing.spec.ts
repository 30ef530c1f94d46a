import { Writable } from 'node:stream';
import * as net from 'node:net';
import { coalesceWritesPerTurn, writePromptly } from './write-coalescing';

/** A stream that records each call of the underlying write path (one entry per _write/_writev). */
function recorder() {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { stream, calls };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('coalesceWritesPerTurn', () => {
  it('writes of one turn reach the stream as one writev, in order, and each callback runs', async () => {
    const { stream, calls } = recorder();
    coalesceWritesPerTurn(stream);
    const done: number[] = [];
    for (let i = 0; i < 5; i++) stream.write(`p${i}`, () => done.push(i));
    expect(calls).toEqual([]); // held until the turn ends
    await turn();
    await turn();
    expect(calls).toEqual([['p0', 'p1', 'p2', 'p3', 'p4']]);
    expect(done).toEqual([0, 1, 2, 3, 4]);
  });

  it('a later turn is a write of its own; without the wrapper every write is its own call', async () => {
    const { stream, calls } = recorder();
    coalesceWritesPerTurn(stream);
    stream.write('a');
    await turn();
    stream.write('b');
    stream.write('c');
    await turn();
    await turn();
    expect(calls).toEqual([['a'], ['b', 'c']]);

    const plain = recorder();
    plain.stream.write('x');
    plain.stream.write('y');
    await turn();
    expect(plain.calls.length).toBeGreaterThanOrEqual(1);
    expect(plain.calls[0]).toEqual(['x']); // the first write goes at once
  });

  it('a stream destroyed while corked is left alone (no uncork on a destroyed stream, no throw)', async () => {
    const { stream, calls } = recorder();
    coalesceWritesPerTurn(stream);
    stream.write('lost');
    stream.destroy();
    await turn();
    expect(calls).toEqual([]);
  });
});

describe('writePromptly', () => {
  it('turns Nagle off on a real TCP connection and still sends the writes of a turn as one segment', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    try {
      const noDelay = jest.spyOn(socket, 'setNoDelay');
      writePromptly(socket);
      expect(noDelay).toHaveBeenCalledWith(true);
      const got: string[] = [];
      client.on('data', (d) => got.push(d.toString()));
      socket.write('puback');
      socket.write('result');
      await new Promise<void>((r) => client.once('data', () => r()));
      expect(got.join('')).toBe('pubackresult');
      expect(got).toHaveLength(1);
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
