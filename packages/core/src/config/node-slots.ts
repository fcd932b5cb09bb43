import type pg from 'pg'
import { ConfigError } from '../errors.js'
import { expandHosts, type NodeSlot, type PoolSettings, toNodeSpec } from './node-spec.js'
import type { NodeSpec } from './resolved-options.js'
import type { NodeInput, ReplicaInput, RouterOptions } from './router-options.js'

/** One node's input (one host of it), with its slot: role, option and default name. */
export interface InputSlot extends NodeSlot {
  readonly input: NodeInput | ReplicaInput
}

/** The name a config input gives its node, if any (checked for duplicates before any pool exists). */
function nameOf(input: NodeInput | ReplicaInput): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const name = (input as { name?: unknown }).name
  return typeof name === 'string' ? name : undefined
}

/** Every node input, one per host, from `primary` + `replicas` or from `nodes`; the first is the primary's guess. */
export function nodeSlots(options: RouterOptions): InputSlot[] {
  const { primary, replicas, nodes } = options
  const listed: Array<{ input: NodeInput | ReplicaInput; option: string; fallback: string }> = []
  if (nodes !== undefined) {
    if (primary !== undefined || replicas !== undefined) {
      throw new ConfigError('nodes', 'give either `nodes` or `primary` (with `replicas`), not both')
    }
    if (!Array.isArray(nodes) || nodes.length === 0)
      throw new ConfigError('nodes', 'expected a non-empty array')
    for (const [i, input] of nodes.entries())
      listed.push({ input, option: `nodes[${i}]`, fallback: `node-${i + 1}` })
  } else {
    if (primary === undefined || primary === null) {
      throw new ConfigError(
        'primary',
        'is required (a connection string, pg.PoolConfig or pg.Pool), or give `nodes`',
      )
    }
    const replicaInputs = replicas ?? []
    if (!Array.isArray(replicaInputs)) throw new ConfigError('replicas', 'expected an array')
    listed.push({ input: primary, option: 'primary', fallback: 'primary' })
    for (const [i, input] of replicaInputs.entries()) {
      listed.push({ input, option: `replicas[${i}]`, fallback: `replica-${i + 1}` })
    }
  }
  return listed.flatMap(({ input, option, fallback }, i) => {
    const inputs = expandHosts(input, option)
    return inputs.map((part, j) => ({
      input: part,
      option,
      role: i === 0 && j === 0 ? ('primary' as const) : ('replica' as const),
      fallbackName: inputs.length > 1 ? `${fallback}-${j + 1}` : fallback,
    }))
  })
}

/**
 * The node specs of `slots`, validated (names unique), each with the password it connects with. Pools made for the
 * nodes before a bad one are ended: none is left open.
 */
export function nodeSpecs(
  slots: readonly InputSlot[],
  poolDefaults: PoolSettings,
  types: pg.CustomTypesConfig | undefined,
): Array<NodeSpec & { readonly password: string | undefined }> {
  const seen = new Set<string>()
  for (const [i, slot] of slots.entries()) {
    const name = nameOf(slot.input)
    if (name === undefined) continue
    if (seen.has(name)) throw new ConfigError(`${slots[i]!.option}.name`, `duplicate node name '${name}'`)
    seen.add(name)
  }
  const nodes: Array<ReturnType<typeof toNodeSpec>> = []
  try {
    for (const slot of slots) {
      const spec = toNodeSpec(slot.input, slot, poolDefaults, types)
      if (nodes.some((node) => node.name === spec.name)) {
        throw new ConfigError(`${slot.option}.name`, `duplicate node name '${spec.name}'`)
      }
      nodes.push(spec)
    }
  } catch (error) {
    // Pools made for the nodes before the bad one must not be left open.
    for (const node of nodes) if (node.ownsPool) void node.pool.end()
    throw error
  }
  return nodes
}
