const infraErrorBrand = Symbol.for('pgroute.infra-error')

/** Machine-readable codes of {@link InfraError}. */
export type InfraErrorCode =
  /** A cluster option (stack prop or `-c` context value) is invalid; `option` names it. */
  | 'PGROUTE_INFRA_INVALID_OPTION'
  /** The deployed stack's outputs file is missing, unreadable, or lacks an expected output. */
  | 'PGROUTE_INFRA_OUTPUTS'
  /** The application secret could not be read or does not hold a username and password. */
  | 'PGROUTE_INFRA_SECRET'

/**
 * The one error class of the infra app. Messages name the problem (and the option, for invalid options) but
 * never contain a password. Check with {@link isInfraError}.
 *
 * @example
 * ```ts
 * try { new PgrouteClusterStack(app, 'PgrouteCluster', { replicas: 0 }) }
 * catch (error) { if (isInfraError(error)) console.error(error.option) } // 'replicas'
 * ```
 */
export class InfraError extends Error {
  /** Machine-readable error code. */
  readonly code: InfraErrorCode
  /** For `PGROUTE_INFRA_INVALID_OPTION`: the option at fault, e.g. `testRunnerCidr`. */
  readonly option: string | undefined

  constructor(code: InfraErrorCode, message: string, options?: { cause?: unknown; option?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'InfraError'
    this.code = code
    this.option = options?.option
    Object.defineProperty(this, infraErrorBrand, { value: true })
  }

  /** An invalid option, with a message of the form ``Invalid option `replicas`: ...``. */
  static invalidOption(option: string, problem: string): InfraError {
    return new InfraError('PGROUTE_INFRA_INVALID_OPTION', `Invalid option \`${option}\`: ${problem}`, {
      option,
    })
  }
}

/** True for {@link InfraError}, from any copy of this module. */
export function isInfraError(error: unknown): error is InfraError {
  return typeof error === 'object' && error !== null && infraErrorBrand in error
}
