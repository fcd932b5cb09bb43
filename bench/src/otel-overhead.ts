/**
 * What pgroute's OpenTelemetry support costs, as `core-throughput` measures throughput (16 concurrent callers,
 * point selects, each client in a process of its own, interleaved rounds; ratios against a plain `pg.Pool`):
 *
 * - `router, no OpenTelemetry`: `@opentelemetry/api` cannot be resolved in that process (as when it is not
 *   installed; the child checks that nothing of it was loaded). Its ratio is the router's plain cost, to read
 *   against `core-throughput`'s.
 * - `router + SDK, pgroute off` / `router + SDK, pgroute on`: the OpenTelemetry SDK registered (metrics with a
 *   reader, traces with the AsyncLocalStorage context manager and a batch processor that discards), every call
 *   inside an active span as in a traced application; `openTelemetry: false` vs `true`. The difference between
 *   the two is what pgroute's metrics and span attributes cost.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/otel-overhead.ts`
 */
import Module, { createRequire } from 'node:module'
import { type BenchRow, isMain } from './bench-module.js'
import type { Load } from './load-child-process.js'
import {
  benchRouter,
  type ClientMap,
  clientLoader,
  plainPoolLoad,
  routerLoad,
  runThroughputBench,
  type ThroughputConfig,
} from './throughput-bench.js'

export const name = 'otel-overhead'

const BASELINE = 'pg.Pool'

type Wrap = <T>(call: () => Promise<T>) => Promise<T>

/** Makes `@opentelemetry/*` unresolvable in this process, as when the application has not installed it. */
function uninstallOpenTelemetry(): void {
  const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string }
  const resolve = loader._resolveFilename
  loader._resolveFilename = function (this: unknown, request, ...rest) {
    if (request.startsWith('@opentelemetry/')) {
      throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' })
    }
    return resolve.call(this, request, ...rest)
  }
}

async function withoutOpenTelemetry(client: string, config: ThroughputConfig): Promise<Load> {
  uninstallOpenTelemetry()
  const router = await benchRouter(config)
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) =>
    path.includes('@opentelemetry'),
  )
  if (loaded.length > 0) throw new Error(`${client}: OpenTelemetry was loaded: ${loaded[0]}`)
  return routerLoad(client, config, router)
}

/** Registers the OpenTelemetry SDK (metrics and traces) globally and returns a wrapper running a call in a span. */
async function registerSdk(): Promise<Wrap> {
  const { context, metrics, trace } = await import('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks')
  const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } =
    await import('@opentelemetry/sdk-metrics')
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 5000 })
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
  const discard = {
    export: (_spans: unknown, done: (result: { code: 0 }) => void) => done({ code: 0 }),
    shutdown: async () => {},
  }
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }),
  )
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const tracer = trace.getTracer('bench')
  return (call) =>
    tracer.startActiveSpan('request', async (span) => {
      try {
        return await call()
      } finally {
        span.end()
      }
    })
}

async function withSdk(client: string, config: ThroughputConfig, openTelemetry: boolean): Promise<Load> {
  const wrap = await registerSdk()
  const router = await benchRouter(config, { openTelemetry })
  return routerLoad(client, config, router, (text, values) => wrap(() => router.pool.query(text, values)))
}

/** The compared clients, in the order of their rows. */
const CLIENTS: ClientMap = {
  'router, no OpenTelemetry': {
    create: (config) => withoutOpenTelemetry('router, no OpenTelemetry', config),
  },
  'router + SDK, pgroute off': { create: (config) => withSdk('router + SDK, pgroute off', config, false) },
  'router + SDK, pgroute on': { create: (config) => withSdk('router + SDK, pgroute on', config, true) },
  [BASELINE]: { create: plainPoolLoad },
  [`${BASELINE} (control)`]: { create: plainPoolLoad },
}

/** Builds one compared client, in a child process of its own. */
export const createLoad = clientLoader(CLIENTS)

/** Measures the clients on a fresh one-replica cluster (reads on the replica, then a primary-only router). */
export function run(): Promise<BenchRow[]> {
  return runThroughputBench({ bench: name, module: import.meta.url, baseline: BASELINE, clients: CLIENTS })
}

if (isMain(import.meta.url)) console.table(await run())
