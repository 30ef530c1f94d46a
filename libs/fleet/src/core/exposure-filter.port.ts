/**
 * The device list's `exposed` filter needs to know which devices are exposed; the lifecycle lib
 * knows, and the composition root binds it here (fleet does not depend on the lifecycle).
 */
export interface ExposedDevicesFilter {
  /** A subquery giving the ids of the devices exposed now. */
  exposedDeviceIdsSql: string;
}

export const EXPOSED_DEVICES_FILTER = Symbol('EXPOSED_DEVICES_FILTER');
