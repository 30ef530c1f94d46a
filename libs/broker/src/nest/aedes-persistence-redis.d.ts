// aedes-persistence-redis ships no types. Its main export is the callback-style persistence that
// aedes 1.x calls (createRetainedStreamCombi and the rest return streams); asyncPersistence.js is
// the promise-based core it wraps, which aedes cannot use directly.
declare module 'aedes-persistence-redis' {
  import type Redis from 'ioredis';
  interface Options {
    conn?: Redis;
    maxSessionDelivery?: number;
    packetTTL?: (packet: unknown) => number;
  }
  function redisPersistence(opts?: Options): unknown;
  export = redisPersistence;
}
