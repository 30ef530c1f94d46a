/**
 * fast-check arbitrary of valid hardening reports, derived from the JSON schema: every fact
 * optional, numbers biased towards the rules' thresholds, service names towards legacy ones.
 */
import fc from 'fast-check';
import { hardeningReportSchema, type HardeningReport } from '../hardening-report.schema';

interface Node {
  type?: string;
  enum?: readonly string[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  properties?: Record<string, Node>;
  required?: readonly string[];
  items?: Node;
  format?: string;
}

const THRESHOLDS = [0, 1, 2, 5, 6, 8, 10, 11, 12, 23, 365, 366, 600, 900, 901, 3600];
const NAMES = ['ssh', 'https', 'mqtts', 'telnet', 'ftp', 'modbus', 'snmp'];

function arb(node: Node): fc.Arbitrary<unknown> {
  if (node.const !== undefined) return fc.constant(node.const);
  switch (node.type) {
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = node.minimum ?? 0;
      const max = node.maximum ?? 1000;
      const near = THRESHOLDS.filter((t) => t >= min && t <= max);
      return fc.oneof(fc.constantFrom(...near), fc.integer({ min, max }));
    }
    case 'string':
      if (node.enum) return fc.constantFrom(...node.enum);
      if (node.format === 'date-time') return fc.constant('2025-06-01T12:00:00Z');
      return fc.constantFrom(...NAMES, '1.0.0');
    case 'array': {
      const items = node.items!;
      if (items.enum) return fc.subarray([...items.enum]);
      return fc.array(arb(items), { maxLength: Math.min(node.maxItems ?? 4, 4) });
    }
    case 'object': {
      const props = Object.fromEntries(Object.entries(node.properties ?? {}).map(([k, v]) => [k, arb(v)]));
      return fc.record(props, { requiredKeys: [...(node.required ?? [])] });
    }
    default:
      throw new Error(`no arbitrary for ${JSON.stringify(node)}`);
  }
}

export function hardeningReportArbitrary(): fc.Arbitrary<HardeningReport> {
  return arb(hardeningReportSchema as unknown as Node) as fc.Arbitrary<HardeningReport>;
}
