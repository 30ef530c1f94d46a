import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { parseConfig } from '@fleetguard/common';
import { buildDataSourceOptions } from './data-source.factory';

/** The standalone DataSource for the TypeORM CLI (`npm run migration:run`), configured like the service. */
const config = parseConfig(process.env);
export default new DataSource(buildDataSourceOptions({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
