/**
 * A device id: 1 to 64 characters, letters, digits and `. _ -`, a letter or digit first. It is the
 * certificate's CN (pki), the MQTT client id and a topic level (broker), and a URL path segment
 * (fleet's routes), so it never holds `/`, `+`, `#`, `:` or white space.
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isDeviceId(v: unknown): v is string {
  return typeof v === 'string' && DEVICE_ID_PATTERN.test(v);
}
