import 'reflect-metadata';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { INestApplication } from '@nestjs/common';
import express from 'express';
import type { Logger } from 'pino';
import { AppConfig } from '@fleetguard/common';
import { PinoNestLogger, createRootLogger, toErrorBody } from '@fleetguard/platform';
import { AppModule } from './app.module';
import { configureHttp } from './http-setup';

export interface RunningService {
  app: INestApplication;
  logger: Logger;
  urls: { operator: string };
  ports: { http: number };
  close(): Promise<void>;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
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

  const operator = http.createServer((req, res) => {
    (req as unknown as { listener: string }).listener = 'operator';
    expressApp(req, res);
  });
  const host = config.bind;
  const httpPort = await listen(operator, config.httpPort, host);
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const urls = { operator: `http://${shown}:${httpPort}` };
  logger.info({ listener: 'operator', port: httpPort }, `operator API and dashboard listening on ${urls.operator}`);

  let closed = false;
  return {
    app,
    logger,
    urls,
    ports: { http: httpPort },
    async close() {
      if (closed) return;
      closed = true;
      operator.closeAllConnections?.();
      await new Promise<void>((r) => operator.close(() => r()));
      await app.close();
    },
  };
}
