import {
  Annotations,
  Aws,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
} from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import type { Construct } from 'constructs'
import {
  type BootstrapHelper,
  type BootstrapRole,
  bootstrapDigest,
  bootstrapUserData,
} from './bootstrap-user-data.js'
import { type ClusterOptions, type ResolvedClusterOptions, resolveClusterOptions } from './cluster-options.js'
import { clusterOutputs } from './cluster-outputs.js'
import { parseIpv4Cidr } from './ipv4-cidr.js'
import { acknowledgeNagFindings } from './nag-acknowledgments.js'
import {
  addAutoDeleteLogGroup,
  addProviderLogGroup,
  autoDeleteHandler,
  providerHandler,
} from './provider-log-group.js'
import { sessionManagerStatement } from './session-manager-policy.js'
import { addStackTtl } from './stack-ttl.js'
import { addWalArchiveBucket, grantWalArchive, walArchivePrefix } from './wal-archive.js'

/** Props of {@link PgrouteClusterStack}: the usual stack props plus the cluster's {@link ClusterOptions}. */
export interface PgrouteClusterStackProps extends StackProps, ClusterOptions {
  /** Clock for `ttlHours` (the deletion time is counted from synthesis). Default: the current time. */
  readonly now?: () => Date
}

/**
 * PostgreSQL port of the primary; replica `i` listens on `postgresPort + i`. A port per node lets a client tell
 * the servers apart by `inet_server_port()`, as the integration suites do (and as on a loopback cluster).
 */
export const postgresPort = 5432

/** The port of node `index` (0 for the primary, `i` for replica `i`). */
export function nodePort(index: number): number {
  return postgresPort + index
}
/** Login role the integration suite uses; its password lives in the application secret. */
export const appUser = 'pgroute_app'
/** Role the replicas stream as; its password lives in the replication secret. */
export const replicationUser = 'replicator'

const rootDevice = '/dev/xvda'
const dataDevice = '/dev/sdf'
const rootVolumeGiB = 16
const signalTimeout = Duration.minutes(20)

/**
 * A PostgreSQL primary and N streaming hot standbys on EC2 (Amazon Linux 2023, distro packages), for running
 * pgroute's integration suite against real, separate servers.
 *
 * - Public subnets in two AZs, no NAT gateway; nodes alternate AZs (primary in the first).
 * - No SSH and no key pair: administration through SSM Session Manager. IMDSv2 only.
 * - Port 5432 open to the cluster's own security group and, optionally, one explicit test-runner network.
 * - Encrypted gp3 root and data volumes. Passwords generated in Secrets Manager and read by the nodes at boot.
 * - CloudFormation waits for each node's signal: the primary after setup, each replica once it streams.
 *
 * Environment-agnostic and lookup-free, so it synthesizes offline without AWS credentials.
 *
 * @example
 * ```ts
 * const app = new App()
 * new PgrouteClusterStack(app, 'PgrouteCluster', { replicas: 2, testRunnerCidr: '203.0.113.7/32' })
 * app.synth()
 * ```
 */
export class PgrouteClusterStack extends Stack {
  /** The validated options the stack was built from. */
  readonly options: ResolvedClusterOptions
  /** The primary node. */
  readonly primary: ec2.Instance
  /** The replica nodes, in slot order (`replica_1` first). */
  readonly replicas: readonly ec2.Instance[]
  /** Security group shared by every node. */
  readonly securityGroup: ec2.SecurityGroup
  /** Username and password of {@link appUser}. */
  readonly appSecret: secretsmanager.Secret
  /** Username and password of {@link replicationUser}. */
  readonly replicationSecret: secretsmanager.Secret
  /** The WAL archive bucket (`walArchive`), or `undefined`. */
  readonly walArchiveBucket: s3.Bucket | undefined

  /** @throws {InfraError} `PGROUTE_INFRA_INVALID_OPTION` naming the invalid option, before anything is created. */
  constructor(scope: Construct, id: string, props: PgrouteClusterStackProps = {}) {
    const options = resolveClusterOptions(props)
    super(scope, id, {
      description: `pgroute integration cluster: PostgreSQL ${options.postgresVersion} primary + ${options.replicas} streaming replicas on EC2`,
      analyticsReporting: false,
      ...props,
    })
    this.options = options
    Tags.of(this).add('project', 'pgroute')

    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(options.vpcCidr),
      ...(options.availabilityZones ? { availabilityZones: [...options.availabilityZones] } : { maxAzs: 2 }),
      natGateways: 0,
      subnetConfiguration: [
        { name: 'Database', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      ],
      restrictDefaultSecurityGroup: true,
    })
    this.securityGroup = this.createSecurityGroup(vpc)
    this.appSecret = this.createSecret(
      'AppSecret',
      appUser,
      'pgroute application role of the integration cluster',
    )
    this.replicationSecret = this.createSecret(
      'ReplicationSecret',
      replicationUser,
      'pgroute streaming replication role',
    )

    const slots = Array.from({ length: options.replicas }, (_, index) => `replica_${index + 1}`)
    this.walArchiveBucket = options.walArchive
      ? addWalArchiveBucket(this, options.walArchiveRetentionDays)
      : undefined
    const helpers: BootstrapHelper[] = options.walArchive ? ['wal-s3'] : []
    const common = {
      AWS_REGION: Aws.REGION,
      PGROUTE_STACK_ID: Aws.STACK_ID,
      PGROUTE_PG_MAJOR: String(options.postgresVersion),
      PGROUTE_DATA_DEVICE: dataDevice,
      PGROUTE_VPC_CIDR: options.vpcCidr,
      PGROUTE_TEST_RUNNER_CIDR: options.testRunnerCidr ?? '',
      PGROUTE_REPLICATION_USER: replicationUser,
      PGROUTE_REPLICATION_SECRET_ARN: this.replicationSecret.secretArn,
      // Standbys require these to be >= the primary's, so every node gets the same values. pg_basebackup
      // holds up to two WAL senders while a replica clones.
      PGROUTE_MAX_WAL_SENDERS: String(Math.max(10, options.replicas * 2 + 2)),
      PGROUTE_MAX_REPLICATION_SLOTS: String(Math.max(10, options.replicas + 2)),
      // A slot whose replica is gone must not fill the data volume: cap retained WAL at a quarter of it.
      PGROUTE_MAX_SLOT_WAL_KEEP_SIZE: `${Math.max(1, Math.floor(options.dataVolumeGiB / 4))}GB`,
      ...(this.walArchiveBucket
        ? { PGROUTE_WAL_BUCKET: this.walArchiveBucket.bucketName, PGROUTE_WAL_PREFIX: walArchivePrefix }
        : {}),
    }

    const primaryRole = this.createRole('PrimaryRole', [this.appSecret, this.replicationSecret])
    const primaryEnv = {
      ...common,
      PGROUTE_PORT: String(nodePort(0)),
      PGROUTE_APP_USER: appUser,
      PGROUTE_APP_SECRET_ARN: this.appSecret.secretArn,
      PGROUTE_DATABASE: options.databaseName,
      PGROUTE_REPLICA_SLOTS: slots.join(' '),
      ...(options.synchronousReplica
        ? { PGROUTE_SYNCHRONOUS_STANDBY: slots[0]!, PGROUTE_SYNCHRONOUS_COMMIT: options.synchronousCommit! }
        : {}),
    }
    const primaryDigest = bootstrapDigest('primary', primaryEnv, [], helpers)
    this.primary = this.createNode(
      vpc,
      'Primary',
      0,
      primaryRole,
      'primary',
      primaryEnv,
      primaryDigest,
      helpers,
    )

    const replicaRole = this.createRole('ReplicaRole', [this.replicationSecret])
    if (this.walArchiveBucket) {
      grantWalArchive(this.walArchiveBucket, primaryRole, 'push')
      grantWalArchive(this.walArchiveBucket, replicaRole, 'fetch')
    }
    this.replicas = slots.map((slot, index) => {
      const env = {
        ...common,
        PGROUTE_PORT: String(nodePort(index + 1)),
        PGROUTE_PRIMARY_HOST: this.primary.instancePrivateIp,
        PGROUTE_PRIMARY_PORT: String(nodePort(0)),
        PGROUTE_SLOT: slot,
      }
      const digest = bootstrapDigest('replica', env, [primaryDigest], helpers)
      return this.createNode(
        vpc,
        `Replica${index + 1}`,
        index + 1,
        replicaRole,
        'replica',
        env,
        digest,
        helpers,
      )
    })

    this.createOutputs()
    const logGroup = addProviderLogGroup(this)
    const autoDeleteLogGroup = addAutoDeleteLogGroup(this)
    const ttl =
      options.ttlHours === undefined
        ? undefined
        : addStackTtl(this, options.ttlHours, (props.now ?? (() => new Date()))(), {
            secretArns: [this.appSecret.secretArn, this.replicationSecret.secretArn],
            functionArn: providerHandler(this)?.getAtt('Arn').toString(),
            logGroupArn: logGroup?.attrArn,
            ...(this.walArchiveBucket
              ? {
                  bucket: {
                    arn: this.walArchiveBucket.bucketArn,
                    functionArn: autoDeleteHandler(this)?.getAtt('Arn').toString(),
                    logGroupArn: autoDeleteLogGroup?.attrArn,
                  },
                }
              : {}),
          })
    acknowledgeNagFindings({
      stackName: this.stackName,
      vpc,
      secrets: [this.appSecret, this.replicationSecret],
      nodeRoles: [primaryRole, replicaRole],
      instances: [this.primary, ...this.replicas],
      ttlRole: ttl?.role,
      walArchiveBucket: this.walArchiveBucket,
    })
    this.warnAboutWideTestRunnerCidr()
  }

  private warnAboutWideTestRunnerCidr(): void {
    const cidr =
      this.options.testRunnerCidr === undefined ? undefined : parseIpv4Cidr(this.options.testRunnerCidr)
    if (cidr === undefined || typeof cidr === 'string' || cidr.prefix === 32) return
    Annotations.of(this).addWarningV2(
      'pgroute:testRunnerCidr',
      `testRunnerCidr ${this.options.testRunnerCidr} opens PostgreSQL to ${2 ** (32 - cidr.prefix)} addresses; ` +
        "prefer the test runner's own address (/32)",
    )
  }

  private createSecurityGroup(vpc: ec2.IVpc): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description:
        'pgroute PostgreSQL nodes: their ports from this group and the optional test runner only; no SSH',
      allowAllOutbound: false,
    })
    const postgres = ec2.Port.tcpRange(nodePort(0), nodePort(this.options.replicas))
    group.addIngressRule(group, postgres, 'PostgreSQL and streaming replication between cluster nodes')
    group.addEgressRule(group, postgres, 'Streaming replication to the primary')
    group.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS: SSM, Secrets Manager, CloudFormation, package mirrors',
    )
    if (this.options.testRunnerCidr !== undefined) {
      group.addIngressRule(
        ec2.Peer.ipv4(this.options.testRunnerCidr),
        postgres,
        'PostgreSQL from the test runner',
      )
    }
    return group
  }

  private createSecret(id: string, username: string, description: string): secretsmanager.Secret {
    return new secretsmanager.Secret(this, id, {
      description,
      // Alphanumeric only: the bootstrap scripts can pass it to psql without quoting concerns and the env
      // script can put it in a URL.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 32,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    })
  }

  private createRole(id: string, secrets: readonly secretsmanager.ISecret[]): iam.Role {
    const role = new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'pgroute cluster node: SSM Session Manager, its secrets, its CloudFormation signal',
    })
    role.addToPolicy(sessionManagerStatement())
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: secrets.map((secret) => secret.secretArn),
      }),
    )
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['cloudformation:SignalResource'], resources: [this.stackId] }),
    )
    return role
  }

  private createNode(
    vpc: ec2.IVpc,
    name: string,
    azIndex: number,
    role: iam.IRole,
    bootstrap: BootstrapRole,
    env: Readonly<Record<string, string>>,
    digest: string,
    helpers: readonly BootstrapHelper[],
  ): ec2.Instance {
    const instanceType = new ec2.InstanceType(this.options.instanceType)
    const cpuType =
      instanceType.architecture === ec2.InstanceArchitecture.ARM_64
        ? ec2.AmazonLinuxCpuType.ARM_64
        : ec2.AmazonLinuxCpuType.X86_64
    const subnets = vpc.publicSubnets
    const logicalId = `${name}${digest}`
    const encryptedGp3 = (sizeGiB: number) =>
      ec2.BlockDeviceVolume.ebs(sizeGiB, {
        encrypted: true,
        volumeType: ec2.EbsDeviceVolumeType.GP3,
        deleteOnTermination: true,
      })
    const instance = new ec2.Instance(this, name, {
      vpc,
      vpcSubnets: { subnets: [subnets[azIndex % subnets.length]!] },
      instanceType,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType }),
      role,
      securityGroup: this.securityGroup,
      associatePublicIpAddress: true,
      httpEndpoint: true,
      httpTokens: ec2.HttpTokens.REQUIRED,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        { deviceName: rootDevice, volume: encryptedGp3(rootVolumeGiB) },
        { deviceName: dataDevice, volume: encryptedGp3(this.options.dataVolumeGiB) },
      ],
      userData: ec2.UserData.custom(
        bootstrapUserData(bootstrap, { ...env, PGROUTE_LOGICAL_ID: logicalId }, helpers),
      ),
      resourceSignalTimeout: signalTimeout,
      instanceName: `${this.stackName}-${name.toLowerCase()}`,
    })
    instance.instance.overrideLogicalId(logicalId)
    return instance
  }

  private createOutputs(): void {
    const endpoint = (host: string, index: number) => `${host}:${nodePort(index)}`
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description })
    output(
      clusterOutputs.primaryEndpoint,
      endpoint(this.primary.instancePrivateDnsName, 0),
      'Primary (private DNS:port, inside the VPC)',
    )
    output(
      clusterOutputs.replicaEndpoints,
      Fn.join(
        ',',
        this.replicas.map((replica, index) => endpoint(replica.instancePrivateDnsName, index + 1)),
      ),
      'Replicas (private DNS:port, comma-separated)',
    )
    if (this.options.testRunnerCidr !== undefined) {
      output(
        clusterOutputs.primaryPublicEndpoint,
        endpoint(this.primary.instancePublicDnsName, 0),
        `Primary (public DNS:port, open to ${this.options.testRunnerCidr} only)`,
      )
      output(
        clusterOutputs.replicaPublicEndpoints,
        Fn.join(
          ',',
          this.replicas.map((replica, index) => endpoint(replica.instancePublicDnsName, index + 1)),
        ),
        `Replicas (public DNS:port, open to ${this.options.testRunnerCidr} only)`,
      )
    }
    output(clusterOutputs.databaseName, this.options.databaseName, 'Application database')
    output(
      clusterOutputs.securityGroupId,
      this.securityGroup.securityGroupId,
      'Security group of the nodes; a test runner inside the VPC joins it to reach 5432',
    )
    output(
      clusterOutputs.appSecretArn,
      this.appSecret.secretArn,
      `Secret with the ${appUser} username and password`,
    )
    if (this.walArchiveBucket) {
      output(
        clusterOutputs.walArchiveBucket,
        this.walArchiveBucket.bucketName,
        `Bucket holding the primary's archived WAL (${walArchivePrefix}/<segment>.gz)`,
      )
    }
  }
}
