/** The Nest-free core of the zones lib: zone assessment (SL-A, countermeasures, gaps) and its exports. */
export * from './zone.assessment';
export * from './assessment.export';
export * from './assessment.oscal';
