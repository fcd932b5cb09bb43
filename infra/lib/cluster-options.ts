import { InfraError } from './infra-error.js'
import { type Ipv4Cidr, ipv4CidrContains, parseIpv4Cidr } from './ipv4-cidr.js'

/**
 * What a deployment of the integration cluster may choose. Every field is optional; see
 * {@link clusterDefaults}. The same names work as CDK context keys: `cdk deploy -c replicas=3`.
 */
export interface ClusterOptions {
  /** Number of hot-standby replicas, 1 to 8. Default 2. */
  readonly replicas?: number
  /**
   * EC2 instance type for every node. Default `t4g.small` (Graviton). The Amazon Linux 2023 image is picked
   * for the type's architecture, so x86 types such as `t3.small` work too.
   */
  readonly instanceType?: string
  /** PostgreSQL major version from the Amazon Linux 2023 packages (`postgresqlNN-server`): 15 to 18. Default 16. */
  readonly postgresVersion?: number
  /** Size of each node's encrypted gp3 data volume in GiB, 8 to 1024. Default 20. */
  readonly dataVolumeGiB?: number
  /**
   * IPv4 network of the machine that runs the integration suite, e.g. `203.0.113.7/32`. When set, port 5432
   * is opened to it (security group and pg_hba) and the stack outputs public endpoints. Networks broader than
   * /16, including `0.0.0.0/0`, are refused; anything broader than one address is synthesized with a warning.
   * Default: none, the cluster is reachable from inside its VPC only.
   */
  readonly testRunnerCidr?: string
  /**
   * Availability zones to place the nodes in (the primary in the first, replicas alternating over the rest and
   * the first), e.g. `['us-east-1a', 'us-east-1b']`; 1 to 4 zones of one region. As CDK context, a
   * comma-separated list. Default: the first two zones of the region. Pick zones that offer `instanceType`
   * (README: `aws ec2 describe-instance-type-offerings`).
   */
  readonly availabilityZones?: readonly string[]
  /**
   * Hours after synthesis (so after `cdk deploy`, which synthesizes first) at which an EventBridge Scheduler
   * schedule deletes the stack, 1 to 720. Default: none, the stack runs until `destroy`.
   */
  readonly ttlHours?: number
  /** IPv4 network of the VPC: a private (RFC 1918) range of size /16 to /22. Default `10.42.0.0/16`. */
  readonly vpcCidr?: string
  /** Application database, owned by the application role. Default `pgroute`. */
  readonly databaseName?: string
  /**
   * Archive the primary's WAL to an S3 bucket of the stack (encrypted, TLS only, no public access, versioned,
   * emptied and deleted with the stack): `archive_mode = on` with a checked `archive_command`
   * (`scripts/wal-s3.sh`: gzip, SHA-256 verified by S3, never overwrites a segment with other content), and a
   * `restore_command` fallback on the replicas. Default false.
   */
  readonly walArchive?: boolean
  /** Days archived WAL is kept (S3 lifecycle rule), 1 to 365; needs `walArchive`. Default 7. */
  readonly walArchiveRetentionDays?: number
  /**
   * Make replica 1 the primary's synchronous standby (`synchronous_standby_names = 'FIRST 1 ("replica_1")'`):
   * commits wait for it, and block while it is down. Default false.
   */
  readonly synchronousReplica?: boolean
  /**
   * `synchronous_commit` of the primary with `synchronousReplica`: `on` (the standby flushed the commit),
   * `remote_write` (it wrote it) or `remote_apply` (it applied it: a read there sees it). Default `on`.
   */
  readonly synchronousCommit?: SynchronousCommit
}

/** Values of {@link ClusterOptions.synchronousCommit}. */
export type SynchronousCommit = 'on' | 'remote_write' | 'remote_apply'

/** {@link ClusterOptions} with defaults applied and every value validated. */
export interface ResolvedClusterOptions {
  /** See {@link ClusterOptions.replicas}. */
  readonly replicas: number
  /** See {@link ClusterOptions.instanceType}. */
  readonly instanceType: string
  /** See {@link ClusterOptions.postgresVersion}. */
  readonly postgresVersion: number
  /** See {@link ClusterOptions.dataVolumeGiB}. */
  readonly dataVolumeGiB: number
  /** See {@link ClusterOptions.testRunnerCidr}; `undefined` when none (an empty string counts as none). */
  readonly testRunnerCidr: string | undefined
  /** See {@link ClusterOptions.vpcCidr}. */
  readonly vpcCidr: string
  /** See {@link ClusterOptions.databaseName}. */
  readonly databaseName: string
  /** See {@link ClusterOptions.availabilityZones}; `undefined` for the region's first two. */
  readonly availabilityZones: readonly string[] | undefined
  /** See {@link ClusterOptions.ttlHours}; `undefined` for none. */
  readonly ttlHours: number | undefined
  /** See {@link ClusterOptions.walArchive}. */
  readonly walArchive: boolean
  /** See {@link ClusterOptions.walArchiveRetentionDays}. */
  readonly walArchiveRetentionDays: number
  /** See {@link ClusterOptions.synchronousReplica}. */
  readonly synchronousReplica: boolean
  /** See {@link ClusterOptions.synchronousCommit}; `undefined` without a synchronous replica. */
  readonly synchronousCommit: SynchronousCommit | undefined
}

/** Defaults of {@link ClusterOptions}. */
export const clusterDefaults = {
  replicas: 2,
  instanceType: 't4g.small',
  postgresVersion: 16,
  dataVolumeGiB: 20,
  vpcCidr: '10.42.0.0/16',
  databaseName: 'pgroute',
  walArchive: false,
  walArchiveRetentionDays: 7,
  synchronousReplica: false,
} as const

const synchronousCommitValues: readonly SynchronousCommit[] = ['on', 'remote_write', 'remote_apply']

/** PostgreSQL majors packaged for Amazon Linux 2023 as `postgresqlNN` / `postgresqlNN-server`. */
export const supportedPostgresVersions: readonly number[] = [15, 16, 17, 18]

const numericOptions = [
  'replicas',
  'postgresVersion',
  'dataVolumeGiB',
  'ttlHours',
  'walArchiveRetentionDays',
] as const
const stringOptions = [
  'instanceType',
  'testRunnerCidr',
  'vpcCidr',
  'databaseName',
  'synchronousCommit',
] as const
const booleanOptions = ['walArchive', 'synchronousReplica'] as const
const privateRanges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(
  (text) => parseIpv4Cidr(text) as Ipv4Cidr,
)

/**
 * Applies defaults and validates, up front, before any construct exists.
 *
 * @throws {InfraError} `PGROUTE_INFRA_INVALID_OPTION` naming the first invalid option.
 */
export function resolveClusterOptions(options: ClusterOptions = {}): ResolvedClusterOptions {
  const resolved: ResolvedClusterOptions = {
    replicas: options.replicas ?? clusterDefaults.replicas,
    instanceType: options.instanceType ?? clusterDefaults.instanceType,
    postgresVersion: options.postgresVersion ?? clusterDefaults.postgresVersion,
    dataVolumeGiB: options.dataVolumeGiB ?? clusterDefaults.dataVolumeGiB,
    testRunnerCidr: options.testRunnerCidr === '' ? undefined : options.testRunnerCidr,
    vpcCidr: options.vpcCidr ?? clusterDefaults.vpcCidr,
    databaseName: options.databaseName ?? clusterDefaults.databaseName,
    availabilityZones: options.availabilityZones,
    ttlHours: options.ttlHours,
    walArchive: options.walArchive ?? clusterDefaults.walArchive,
    walArchiveRetentionDays: options.walArchiveRetentionDays ?? clusterDefaults.walArchiveRetentionDays,
    synchronousReplica: options.synchronousReplica ?? clusterDefaults.synchronousReplica,
    synchronousCommit:
      options.synchronousReplica === true ? (options.synchronousCommit ?? 'on') : options.synchronousCommit,
  }
  requireInteger('replicas', resolved.replicas, 1, 8)
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(resolved.instanceType)) {
    throw InfraError.invalidOption(
      'instanceType',
      `expected an EC2 instance type such as t4g.small, got ${show(resolved.instanceType)}`,
    )
  }
  if (!supportedPostgresVersions.includes(resolved.postgresVersion)) {
    throw InfraError.invalidOption(
      'postgresVersion',
      `expected one of ${supportedPostgresVersions.join(', ')} (Amazon Linux 2023 packages), got ${show(resolved.postgresVersion)}`,
    )
  }
  requireInteger('dataVolumeGiB', resolved.dataVolumeGiB, 8, 1024)
  if (resolved.testRunnerCidr !== undefined) validateTestRunnerCidr(resolved.testRunnerCidr)
  validateVpcCidr(resolved.vpcCidr)
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(resolved.databaseName)) {
    throw InfraError.invalidOption(
      'databaseName',
      `expected a lower-case identifier (letters, digits, underscores), got ${show(resolved.databaseName)}`,
    )
  }
  if (resolved.availabilityZones !== undefined) validateAvailabilityZones(resolved.availabilityZones)
  if (resolved.ttlHours !== undefined) requireInteger('ttlHours', resolved.ttlHours, 1, 720)
  validateReplicationModes(options, resolved)
  return resolved
}

function validateReplicationModes(options: ClusterOptions, resolved: ResolvedClusterOptions): void {
  for (const option of booleanOptions) {
    if (typeof resolved[option] !== 'boolean') {
      throw InfraError.invalidOption(option, `expected true or false, got ${show(resolved[option])}`)
    }
  }
  requireInteger('walArchiveRetentionDays', resolved.walArchiveRetentionDays, 1, 365)
  if (options.walArchiveRetentionDays !== undefined && !resolved.walArchive) {
    throw InfraError.invalidOption('walArchiveRetentionDays', 'has no effect without walArchive')
  }
  if (resolved.synchronousCommit !== undefined) {
    if (!resolved.synchronousReplica) {
      throw InfraError.invalidOption('synchronousCommit', 'has no effect without synchronousReplica')
    }
    if (!synchronousCommitValues.includes(resolved.synchronousCommit)) {
      throw InfraError.invalidOption(
        'synchronousCommit',
        `expected one of ${synchronousCommitValues.join(', ')}, got ${show(resolved.synchronousCommit)}`,
      )
    }
  }
}

/**
 * Reads {@link ClusterOptions} from CDK context (`-c key=value`), where every value arrives as a string.
 * Unset keys stay unset so that defaults apply.
 *
 * @throws {InfraError} `PGROUTE_INFRA_INVALID_OPTION` when a numeric option is not a number.
 */
export function clusterOptionsFromContext(get: (key: string) => unknown): ClusterOptions {
  const options: Record<string, string | number | boolean | readonly string[]> = {}
  for (const key of numericOptions) {
    const value = get(key)
    if (value === undefined) continue
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value)
          : Number.NaN
    if (!Number.isFinite(number)) throw InfraError.invalidOption(key, `expected a number, got ${show(value)}`)
    options[key] = number
  }
  for (const key of stringOptions) {
    const value = get(key)
    if (value === undefined) continue
    if (typeof value !== 'string')
      throw InfraError.invalidOption(key, `expected a string, got ${show(value)}`)
    options[key] = value
  }
  for (const key of booleanOptions) {
    const value = get(key)
    if (value === undefined) continue
    if (value === true || value === 'true') options[key] = true
    else if (value === false || value === 'false') options[key] = false
    else throw InfraError.invalidOption(key, `expected true or false, got ${show(value)}`)
  }
  const zones = get('availabilityZones')
  if (typeof zones === 'string') {
    options.availabilityZones = zones
      .split(',')
      .map((zone) => zone.trim())
      .filter((zone) => zone !== '')
  } else if (zones !== undefined) {
    throw InfraError.invalidOption('availabilityZones', `expected a comma-separated list, got ${show(zones)}`)
  }
  return options as ClusterOptions
}

function requireInteger(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw InfraError.invalidOption(option, `expected an integer from ${min} to ${max}, got ${show(value)}`)
  }
}

function validateTestRunnerCidr(text: string): void {
  const cidr = parseIpv4Cidr(text)
  if (typeof cidr === 'string') throw InfraError.invalidOption('testRunnerCidr', cidr)
  if (cidr.prefix < 16) {
    throw InfraError.invalidOption(
      'testRunnerCidr',
      `${text} would open PostgreSQL to ${cidr.prefix === 0 ? 'the whole internet' : 'a large part of the internet'}; ` +
        'nothing wider than /16 is accepted: give the address of the test runner itself, e.g. 203.0.113.7/32',
    )
  }
}

function validateAvailabilityZones(zones: readonly string[]): void {
  if (!Array.isArray(zones) || zones.length < 1 || zones.length > 4) {
    throw InfraError.invalidOption('availabilityZones', `expected 1 to 4 zones, got ${show(zones)}`)
  }
  for (const zone of zones) {
    if (typeof zone !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/.test(zone)) {
      throw InfraError.invalidOption(
        'availabilityZones',
        `expected zone names such as us-east-1a, got ${show(zone)}`,
      )
    }
  }
  const regions = new Set(zones.map((zone) => zone.slice(0, -1)))
  if (regions.size > 1) {
    throw InfraError.invalidOption(
      'availabilityZones',
      `expected zones of one region, got ${zones.join(', ')}`,
    )
  }
  if (new Set(zones).size !== zones.length) {
    throw InfraError.invalidOption('availabilityZones', `names a zone twice: ${zones.join(', ')}`)
  }
}

function validateVpcCidr(text: string): void {
  const cidr = parseIpv4Cidr(text)
  if (typeof cidr === 'string') throw InfraError.invalidOption('vpcCidr', cidr)
  if (cidr.prefix < 16 || cidr.prefix > 22) {
    throw InfraError.invalidOption(
      'vpcCidr',
      `expected a prefix length from /16 to /22 (two /24 subnets), got ${text}`,
    )
  }
  if (!privateRanges.some((range) => ipv4CidrContains(range, cidr))) {
    throw InfraError.invalidOption('vpcCidr', `expected a private (RFC 1918) range, got ${text}`)
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
