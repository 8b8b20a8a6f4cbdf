import type { Scenario } from '../scenario.js';
import { pointsRedemption } from './points-redemption.js';
import { resourceFreeze } from './resource-freeze.js';

/** The built-in scenarios by name. */
export const SCENARIOS: Readonly<Record<string, Scenario<any>>> = Object.freeze({
  'points-redemption': pointsRedemption,
  'resource-freeze': resourceFreeze,
});
