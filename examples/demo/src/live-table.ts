import type { DemoOutput } from './demo-options.js'

/** One node's row: the router's view (state, lag) and the workload's (requests it answered). */
export interface NodeRow {
  readonly label: string
  readonly role: string
  readonly state: string
  readonly lagBytes: number
  readonly lagSeconds: number
  /** Reads it answered since the previous frame, per second. */
  readonly readRate: number
  /** Median time of those reads (request to answer) in ms, or undefined when there were none. */
  readonly readMs: number | undefined
  readonly reads: number
  readonly writes: number
}

/** What the table shows at one moment. */
export interface TableFrame {
  /** Seconds since traffic started. */
  readonly elapsed: number
  /** Seconds the traffic is meant to run. */
  readonly duration: number
  readonly title: string
  readonly requests: number
  readonly checks: number
  readonly stale: number
  readonly errors: number
  readonly rows: readonly NodeRow[]
}

const STATE_COLORS: Record<string, string> = { up: '32', lagging: '33', down: '31', unknown: '90' }
const number = new Intl.NumberFormat('en-US')

/** A node that is down or not probed yet has no lag to show (the router reports 0). */
function lagKnown(row: NodeRow): boolean {
  return row.state !== 'down' && row.state !== 'unknown'
}

/** `12.3 kB`-style byte counts. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`
  return `${(bytes / 1_000_000).toFixed(1)} MB`
}

/** Formats an integer with thousands separators. */
export function formatCount(n: number): string {
  return number.format(n)
}

/**
 * Prints the node table once a second. On a terminal it redraws in place with plain ANSI escapes, with events
 * scrolling above it; elsewhere (a pipe, CI) it prints one line per second and one per event.
 */
export class LiveTable {
  readonly #output: DemoOutput
  readonly #tty: boolean
  /** Lines of the table on screen (TTY), redrawn after an event is printed above it. */
  #shown: string[] = []

  constructor(output: DemoOutput) {
    this.#output = output
    this.#tty = output.isTTY === true
  }

  /** Prints an event (a replica stopped, the router saw a node go down, ...) above the table. */
  event(elapsed: number, text: string): void {
    this.#clear()
    this.#output.write(`[${elapsed.toFixed(1).padStart(5)}s] ${text}\n`)
    this.#draw(this.#shown)
  }

  /** Shows the current state. */
  frame(frame: TableFrame): void {
    if (!this.#tty) {
      this.#output.write(`${this.#line(frame)}\n`)
      return
    }
    this.#clear()
    this.#draw(this.#table(frame))
  }

  /** Leaves the last table on screen; later output goes below it. */
  done(): void {
    this.#shown = []
  }

  #draw(lines: string[]): void {
    if (lines.length > 0) this.#output.write(`${lines.join('\n')}\n`)
    this.#shown = lines
  }

  #clear(): void {
    // Cursor up to the table's first line, then erase to the end of the screen.
    if (this.#tty && this.#shown.length > 0) this.#output.write(`\x1b[${this.#shown.length}F\x1b[0J`)
  }

  #table(frame: TableFrame): string[] {
    const rate = frame.elapsed > 0 ? frame.requests / frame.elapsed : 0
    const stale = frame.stale === 0 ? '0' : `\x1b[31m${frame.stale}\x1b[0m`
    const errors = frame.errors === 0 ? '0' : `\x1b[31m${frame.errors}\x1b[0m`
    const head = ['node', 'role', 'state', 'lag bytes', 'lag s', 'reads/s', 'read ms', 'reads', 'writes']
    const widths = [15, 8, 9, 10, 7, 8, 8, 9, 9]
    const cell = (text: string, i: number) => (i < 3 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))
    const lines = [
      `\x1b[1m${frame.title}\x1b[0m · ${frame.elapsed.toFixed(0)} s of ${frame.duration} s`,
      `requests ${formatCount(frame.requests)} (${rate.toFixed(0)}/s) · read-after-write checks ` +
        `${formatCount(frame.checks)} · stale ${stale} · errors ${errors}`,
      '',
      `\x1b[2m${head.map(cell).join(' ')}\x1b[0m`,
    ]
    for (const row of frame.rows) {
      const cells = [
        row.label,
        row.role,
        row.state,
        lagKnown(row) ? formatBytes(row.lagBytes) : '-',
        lagKnown(row) ? row.lagSeconds.toFixed(1) : '-',
        row.readRate.toFixed(0),
        row.readMs === undefined ? '-' : row.readMs.toFixed(1),
        formatCount(row.reads),
        formatCount(row.writes),
      ].map(cell)
      cells[2] = `\x1b[${STATE_COLORS[row.state] ?? '0'}m${cells[2]}\x1b[0m`
      lines.push(cells.join(' '))
    }
    return lines
  }

  #line(frame: TableFrame): string {
    const nodes = frame.rows.map((row) => {
      const lag =
        row.role === 'replica' && lagKnown(row)
          ? ` lag ${formatBytes(row.lagBytes)}/${row.lagSeconds.toFixed(1)}s`
          : ''
      const ms = row.readMs === undefined ? '' : ` p50 ${row.readMs.toFixed(1)} ms`
      return `${row.label} ${row.state}${lag} ${row.readRate.toFixed(0)} reads/s${ms} (${row.reads}) writes ${row.writes}`
    })
    return (
      `[${frame.elapsed.toFixed(1).padStart(5)}s] ${frame.requests} requests, ${frame.checks} checks, ` +
      `${frame.stale} stale, ${frame.errors} errors | ${nodes.join(' | ')}`
    )
  }
}
