import * as fs from 'node:fs';
import * as path from 'node:path';
import { serviceNodeOptions } from './support/service';

/**
 * The service starts the same way everywhere: `npm start`, docker-compose.yml, and the tests and
 * benches that spawn it (spawnBuiltService takes `npm start`'s Node options).
 */
describe('the Node options the service starts with', () => {
  it('are those of npm start, and docker-compose.yml uses the same', () => {
    const options = serviceNodeOptions();
    expect(options).toContain('--max-semi-space-size=64');
    const compose = fs.readFileSync(path.join(__dirname, '..', 'docker-compose.yml'), 'utf8');
    const command = /command:\s*node\s+(.*?)\s*dist\/apps\/fleet-server\/src\/main\.js/.exec(compose);
    expect(command).not.toBeNull();
    expect(command![1].split(/\s+/).filter(Boolean)).toEqual(options);
  });
});
