// @fleetguard/hardening/testing: helpers for tests (product code never imports this entry).
export * from '../core/testing/hardening-report.arbitrary';
