/** The injection token of the parsed configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');
