import { Global, Module } from '@nestjs/common';
import { COMPONENT_TYPES, ComponentType } from '@fleetguard/common';
import { EXPOSED_DEVICES_FILTER, REQUIREMENT_CATALOG, RequirementCatalogPort } from '@fleetguard/fleet';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { LifecycleFactsReader, LifecycleRepository } from '@fleetguard/lifecycle/nest';
import { applicableItems, LIFECYCLE_FACTS, loadCatalog, type LifecycleFactsPort } from '@fleetguard/hardening';

/** fleet's view of the 62443-4-2 catalog, bound to hardening's catalog here at the composition root. */
export function requirementCatalog(): RequirementCatalogPort {
  const catalog = loadCatalog();
  const known = new Map<ComponentType, ReadonlySet<string>>(COMPONENT_TYPES.map((t) => [t, new Set(applicableItems(catalog, t).map((i) => i.id))]));
  return { knownRequirementIds: (type) => known.get(type) ?? new Set() };
}

/**
 * Ports that one lib declares and another lib's code fulfils, bound where both are known. Global,
 * so the declaring lib's module receives the binding without importing the fulfilling lib.
 */
@Global()
@Module({
  providers: [
    { provide: REQUIREMENT_CATALOG, useFactory: requirementCatalog },
    // The fleet's device list filters on the lifecycle's exposure.
    { provide: EXPOSED_DEVICES_FILTER, useValue: { exposedDeviceIdsSql: LifecycleRepository.EXPOSED_DEVICE_IDS_SQL } },
    // The 62443 view (hardening) shows the lifecycle's facts on the attested release as findings.
    { provide: LIFECYCLE_FACTS, useFactory: (ds: DataSource): LifecycleFactsPort => new LifecycleFactsReader(ds), inject: [getDataSourceToken()] },
  ],
  exports: [REQUIREMENT_CATALOG, EXPOSED_DEVICES_FILTER, LIFECYCLE_FACTS],
})
export class PortsModule {}
