import { runService } from '@pgroute-examples/shared'
import { buildApp } from './app.js'

// Runs the service on PORT (default 3000) and HOST (default 127.0.0.1), against PGROUTE_PRIMARY_URL and
// PGROUTE_REPLICA_URLS, or against a local cluster started here when they are unset. Ctrl-C stops it all.
await runService({ buildApp })
