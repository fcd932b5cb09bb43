import type { DemoOutput } from './demo-options.js'

/**
 * Prints the start-up steps, one line each, `  <step>… done (1.2 s)`, so the seconds before traffic starts say
 * what they are spent on.
 */
export class StartupProgress {
  readonly #output: DemoOutput | undefined
  #started: number | undefined

  /** `output` undefined prints nothing. */
  constructor(output: DemoOutput | undefined) {
    this.#output = output
  }

  /** Finishes the current step's line, if any, and starts a line for the next one. */
  step(text: string): void {
    this.finish()
    this.#output?.write(`  ${text}… `)
    this.#started = performance.now()
  }

  /** Finishes the current step's line with its duration. */
  finish(): void {
    if (this.#started === undefined) return
    this.#output?.write(`done (${((performance.now() - this.#started) / 1000).toFixed(1)} s)\n`)
    this.#started = undefined
  }

  /** Ends the current step's line, if a step was left unfinished by an error or Ctrl-C. */
  abandon(): void {
    if (this.#started === undefined) return
    this.#output?.write('stopped\n')
    this.#started = undefined
  }
}
