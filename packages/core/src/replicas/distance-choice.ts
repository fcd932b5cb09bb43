/**
 * Why `balance: 'nearest'` chose its replica (the `reason` of `route` events and the `pgroute.choice` of metrics):
 * - `nearest`: a near replica (while every replica is saturated: the least busy near one, where it queues);
 * - `spill-over`: a farther one, because every near replica had all its pool's connections taken;
 * - `far`: a farther one, because no near replica could take the read (none up, within the lag bounds, caught up).
 */
export type DistanceChoice = 'nearest' | 'spill-over' | 'far'

/** Whether a route reason is one of `balance: 'nearest'`'s {@link DistanceChoice}s. */
export function isDistanceChoice(reason: string): reason is DistanceChoice {
  return reason === 'nearest' || reason === 'spill-over' || reason === 'far'
}
