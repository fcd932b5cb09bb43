import type { ClassificationReason } from './classification.js'
import * as K from './sql-keywords.js'

/**
 * The modes of one BEGIN / START TRANSACTION, fed one keyword code at a time, and the routing they call for: a
 * READ ONLY transaction may run on a replica, unless it is SERIALIZABLE, which a hot standby refuses.
 */
export class TransactionModes {
  #readOnly = false
  #readWrite = false
  #serializable = false

  /** Forgets the modes of the previous BEGIN. */
  reset(): void {
    this.#readOnly = false
    this.#readWrite = false
    this.#serializable = false
  }

  /** Takes the keyword `code` that follows the keyword `p1`. */
  push(code: number, p1: number): void {
    // A standby refuses to set READ WRITE even when a later READ ONLY would win: any READ WRITE counts.
    if (code === K.KW_ONLY && p1 === K.KW_READ) this.#readOnly ||= !this.#readWrite
    else if (code === K.KW_WRITE && p1 === K.KW_READ) {
      this.#readWrite = true
      this.#readOnly = false
    } else if (code === K.KW_SERIALIZABLE) this.#serializable = true
  }

  /** The reason of the whole BEGIN statement. */
  reason(): ClassificationReason {
    if (!this.#readOnly) return 'transaction-begin'
    return this.#serializable ? 'serializable' : 'transaction-begin-read-only'
  }
}
