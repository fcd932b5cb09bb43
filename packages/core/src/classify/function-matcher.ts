import type { ClassificationReason } from './classification.js'
import { foldName, hashName, type NameToken, sameName } from './name-hash.js'

/** A function name split into its optional schema and its name, both folded to lower case. */
export interface QualifiedName {
  readonly schema: string | undefined
  readonly name: string
}

interface FunctionEntry extends QualifiedName {
  /** The classification reason for a call of this function. */
  readonly reason: ClassificationReason
  /**
   * A quoted name matches only with the entry's case, as PostgreSQL looks it up (`"NEXTVAL"(` is no call of
   * nextval): for the built-in list. Names a user lists match quoted names in any case.
   */
  readonly exactQuoted: boolean
}

/**
 * Parses `name`, `schema.name`, or either part "quoted" (a quoted part may hold dots; `""` is a quote).
 * Returns undefined for anything else. Parts are folded to lower case: calls match case-insensitively.
 */
export function parseFunctionName(text: string): QualifiedName | undefined {
  const parts: string[] = []
  let pos = 0
  while (pos <= text.length) {
    let part = ''
    if (text.charCodeAt(pos) === 34) {
      pos++
      for (;;) {
        const close = text.indexOf('"', pos)
        if (close < 0) return undefined
        part += text.slice(pos, close)
        pos = close + 1
        if (text.charCodeAt(pos) !== 34) break
        part += '"'
        pos++
      }
    } else {
      const dot = text.indexOf('.', pos)
      const end = dot < 0 ? text.length : dot
      part = text.slice(pos, end)
      if (!/^[\p{L}_][\p{L}\p{N}_$]*$/u.test(part)) return undefined
      pos = end
    }
    if (part === '') return undefined
    parts.push(foldName(part))
    if (pos === text.length) break
    if (text.charCodeAt(pos) !== 46) return undefined
    pos++
  }
  if (parts.length === 1) return { schema: undefined, name: parts[0]! }
  if (parts.length === 2) return { schema: parts[0], name: parts[1]! }
  return undefined
}

const HASH_BITS_SIZE = 4096

/**
 * Recognises calls of the functions that make a statement a write. An unqualified entry matches a call in
 * any schema; a qualified entry matches calls qualified with its schema and unqualified calls (which the
 * search path may resolve to it).
 */
export class FunctionMatcher {
  readonly #byHash = new Map<number, FunctionEntry[]>()
  /** 1 at the low bits of every hash of #byHash: most calls are of other functions, and pass on one array read. */
  readonly #hashBits = new Uint8Array(HASH_BITS_SIZE)

  /** `builtIn` names match quoted names only in their own (lower) case; `names` in any case. */
  constructor(names: readonly QualifiedName[], builtIn: readonly QualifiedName[] = []) {
    for (const [index, { schema, name }] of [...builtIn, ...names].entries()) {
      const hash = hashName(name)
      const entries = this.#byHash.get(hash) ?? []
      if (entries.some((entry) => entry.name === name && entry.schema === schema)) continue
      entries.push({
        schema,
        name,
        reason: `volatile-function:${schema === undefined ? '' : `${schema}.`}${name}`,
        exactQuoted: index < builtIn.length,
      })
      this.#byHash.set(hash, entries)
      this.#hashBits[hash & (HASH_BITS_SIZE - 1)] = 1
    }
  }

  /**
   * The reason for a call of the function `name`, whose {@link hashToken} is `hash`, qualified by `qualifier`
   * when given; undefined when it is no write.
   */
  match(name: NameToken, hash: number, qualifier: NameToken | undefined): ClassificationReason | undefined {
    if (this.#hashBits[hash & (HASH_BITS_SIZE - 1)] === 0) return undefined
    const entries = this.#byHash.get(hash)
    if (entries === undefined) return undefined
    for (const entry of entries) {
      if (!sameName(name, entry.name, entry.exactQuoted)) continue
      if (entry.schema === undefined || qualifier === undefined || sameName(qualifier, entry.schema)) {
        return entry.reason
      }
    }
    return undefined
  }
}
