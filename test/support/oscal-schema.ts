/** NIST's OSCAL 1.1.3 assessment-results JSON Schema (test/vendor/oscal), compiled with ajv and ajv-formats. */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

let validate: ValidateFunction | undefined;

export function oscalAssessmentResultsValidator(): ValidateFunction {
  if (!validate) {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'vendor', 'oscal', 'oscal_assessment-results_schema.json'), 'utf8')) as object;
    // strict: false - NIST's schema uses keywords (e.g. $comment beside $ref) ajv's strict mode flags.
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    validate = ajv.compile(schema);
  }
  return validate;
}
