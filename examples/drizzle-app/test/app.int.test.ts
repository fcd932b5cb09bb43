import { describeExampleApp } from '@pgroute-examples/shared/example-app-suite'
import { buildApp } from '../src/app.js'

describeExampleApp({ name: 'drizzle-app', buildApp })
