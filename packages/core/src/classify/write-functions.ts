import { SIDE_EFFECT_FUNCTIONS } from './side-effect-functions.js'

/**
 * Built-in functions whose calls make a statement need the primary: the functions of PostgreSQL and of its contrib
 * extensions that write, take locks other sessions must see (advisory locks), assign a transaction id, notify,
 * change or answer from session or server state, or fail on a hot standby. Generated from the servers themselves
 * (`side-effect-functions.ts`, by `scripts/generate-function-effects.ts`; see docs/routing-rules.md). Names are
 * unqualified, so they also match `pg_catalog.<name>(` and `<any schema>.<name>(` calls.
 */
export const DEFAULT_WRITE_FUNCTIONS: readonly string[] = Object.freeze([...SIDE_EFFECT_FUNCTIONS])
