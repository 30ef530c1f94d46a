import 'reflect-metadata';
import * as http from 'node:http';
import * as https from 'node:https';
import { NestFactory } from '@nestjs/core';
import { INestApplication } from '@nestjs/common';
import express from 'express';
import type { Logger } from 'pino';
import { AppConfig } from '@fleetguard/common';
import { PinoNestLogger, createRootLogger, toErrorBody } from '@fleetguard/platform/nest';
import { SlowClientLimits, guardSlowBodies, listen, slowClientServerOptions, watchFileDescriptors } from '@fleetguard/platform';
import { CaService } from '@fleetguard/pki/nest';
import { BrokerService } from '@fleetguard/broker/nest';
import { WebhookTargetService } from '@fleetguard/events/nest';
import { AppModule } from './app.module';
import { configureHttp } from './http-setup';

export interface RunningService {
  app: INestApplication;
  logger: Logger;
  urls: { operator: string; device: string; mqtt: string };
  ports: { http: number; device: number; mqtt: number; mqttPlain?: number };
  close(): Promise<void>;
}

/** Starts every listener of the service. Used by main.ts and by the tests (ephemeral ports). */
export async function startService(config: AppConfig, logger: Logger = createRootLogger(config.logLevel)): Promise<RunningService> {
  const app = await NestFactory.create(AppModule.forRoot(config), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  configureHttp(app, config, logger);
  await app.init();
  const expressApp = app.getHttpAdapter().getInstance() as express.Express;
  // Errors raised before Nest's routing (body parser: malformed JSON, too large) get the same JSON shape.
  expressApp.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    const body = toErrorBody(err);
    res.status(body.statusCode).json(body);
  });
  expressApp.use((req: express.Request, res: express.Response) => {
    res.status(404).json({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.path}` });
  });

  // Slow clients (slowloris headers, 1 byte/s bodies, sockets that never start TLS) are cut off.
  const limits: SlowClientLimits = {
    headersTimeoutMs: config.httpHeadersTimeoutSeconds * 1000,
    requestTimeoutMs: config.httpRequestTimeoutSeconds * 1000,
    minBodyBytesPerSecond: config.httpMinBodyRate,
    handshakeTimeoutMs: 10_000,
  };
  const onSlow = (req: http.IncomingMessage) => logger.warn({ method: req.method, url: req.url?.split('?')[0] }, 'request body slower than FLEETGUARD_HTTP_MIN_BODY_RATE: connection closed');
  const operator = http.createServer(slowClientServerOptions(limits), (req, res) => {
    (req as unknown as { listener: string }).listener = 'operator';
    expressApp(req, res);
  });
  guardSlowBodies(operator, limits, onSlow);
  const host = config.bind;
  const httpPort = await listen(operator, config.httpPort, host);
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const ca = app.get(CaService);
  await ca.setPublicBaseUrl(`http://${shown === '127.0.0.1' ? 'localhost' : shown}:${httpPort}`);

  // The device listener asks for a client certificate but lets the routes decide (enrollment has none yet).
  const tls = ca.serverTls;
  const device = https.createServer({ ...slowClientServerOptions(limits), key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => {
    (req as unknown as { listener: string }).listener = 'device';
    expressApp(req, res);
  });
  ca.onTlsChanged((n) => device.setSecureContext({ key: n.key, cert: n.cert, ca: n.ca, minVersion: 'TLSv1.2' }));
  guardSlowBodies(device, limits, onSlow);
  const devicePort = await listen(device, config.devicePort, host);
  const mqtt = await app.get(BrokerService).listen(host);
  app.get(WebhookTargetService).addOwnPorts(httpPort, devicePort, mqtt.tls, mqtt.plain);
  const deviceHost = shown === '127.0.0.1' ? 'localhost' : shown;
  const urls = { operator: `http://${shown}:${httpPort}`, device: `https://${deviceHost}:${devicePort}`, mqtt: `mqtts://${deviceHost}:${mqtt.tls}` };
  logger.info({ listener: 'operator', port: httpPort }, `operator API and dashboard listening on ${urls.operator}`);
  logger.info({ listener: 'device', port: devicePort }, `device API (enrollment, EST, attestation) listening on ${urls.device}`);
  logger.info({ listener: 'mqtt', port: mqtt.tls }, `MQTT broker (mutual TLS) listening on ${urls.mqtt}`);

  const fdWatch = watchFileDescriptors((message) => logger.warn({ alert: 'file-descriptors' }, message));

  let closed = false;
  return {
    app,
    logger,
    urls,
    ports: { http: httpPort, device: devicePort, mqtt: mqtt.tls, mqttPlain: mqtt.plain },
    async close() {
      if (closed) return;
      closed = true;
      fdWatch.stop();
      for (const server of [operator, device]) {
        server.closeAllConnections?.();
        await new Promise<void>((r) => server.close(() => r()));
      }
      await app.close();
    },
  };
}
