import * as fs from 'node:fs';
import * as mqtt from 'mqtt';
import { CaService } from '@fleetguard/pki/nest';
import { startService, RunningService } from '../apps/fleet-server/src/bootstrap';
import { createRootLogger } from '@fleetguard/platform/nest';
import { TestService, createTenant, startTestService } from './support/service';
import { productWithRelease } from './support/fleet-fixture';
import { Workdir, enrollWithOpenssl } from './support/openssl';

jest.setTimeout(120_000);

/**
 * After a restart every device reconnects at once, and each connection's certificate used to be
 * parsed and checked again (a fifth of the broker's time per connect in that storm). At boot the
 * issuing CA is now told the valid device certificates the database holds, so the first
 * connection of each is answered from memory. Here: a device enrolled with an openssl key over
 * curl, the service closed and started again on the same database and certificates directory,
 * the certificate known before any device connected, and the device (mqtt.js) connecting again.
 */
describe('a restart knows the fleet’s certificates before the first device connects', () => {
  let s: TestService | undefined;
  let second: RunningService | undefined;
  let w: Workdir;

  afterAll(async () => {
    await second?.close();
    await s?.stop();
    w?.cleanup();
  });

  const connect = (port: number, clientId: string, key: Buffer, cert: string, ca: Buffer) =>
    new Promise<mqtt.MqttClient>((resolve, reject) => {
      const c = mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtts', servername: 'localhost', clientId, key, cert, ca, reconnectPeriod: 0 });
      c.once('connect', () => resolve(c));
      c.once('error', (e) => (c.end(true), reject(e)));
    });

  it('remembers each valid device certificate at boot and accepts the device on it', async () => {
    s = await startTestService();
    w = new Workdir();
    const operator = await createTenant(s.api, 'operator');
    const fixture = await productWithRelease(s.api, { operator });
    const enrolled = await enrollWithOpenssl(w, s, fixture);
    const { key, cafile } = enrolled;
    const first = await connect(s.ports.mqtt, enrolled.deviceId, fs.readFileSync(key), enrolled.certificate, fs.readFileSync(cafile));
    first.end(true);

    // The same database and certificates directory, a new process state (ports are new: 0).
    await s.close();
    second = await startService(s.config, createRootLogger(s.config.logLevel));
    const ca = second.app.get(CaService);
    expect(ca.authorityOf(1)!.knownCertificates).toBe(1);
    const again = await connect(second.ports.mqtt, enrolled.deviceId, fs.readFileSync(key), enrolled.certificate, fs.readFileSync(cafile));
    again.end(true);
    // Still one: the connection was answered by the remembered entry, not a second check.
    expect(ca.authorityOf(1)!.knownCertificates).toBe(1);
  });
});
