/** Every scenario of `pnpm chaos`, in the order they run. */
import {
  lagSpike,
  primaryHung,
  primaryKilled,
  replicaHung,
  replicaKilled,
  slotsFull,
} from './fault-scenarios.js'
import { endUnderLoad, hostileInput } from './hostile-scenarios.js'
import {
  idleConnectionKilled,
  lostTail,
  sameTimelineRival,
  splitBrainOpenTransactions,
  switchoverWaiting,
} from './integrity-scenarios.js'
import { patroniHaproxyFailover } from './patroni-haproxy-scenario.js'
import { patroniFailover, patroniSwitchoverWaiting } from './patroni-scenario.js'
import { archiveStandby, syncFailover } from './replication-scenarios.js'
import type { Scenario } from './scenario.js'
import { failover, splitBrain } from './topology-scenarios.js'

export const scenarios: readonly Scenario[] = [
  replicaKilled,
  replicaHung,
  primaryKilled,
  primaryHung,
  lagSpike,
  slotsFull,
  hostileInput,
  endUnderLoad,
  failover,
  splitBrain,
  syncFailover,
  archiveStandby,
  patroniFailover,
  patroniHaproxyFailover,
  switchoverWaiting,
  patroniSwitchoverWaiting,
  splitBrainOpenTransactions,
  lostTail,
  idleConnectionKilled,
  sameTimelineRival,
]
