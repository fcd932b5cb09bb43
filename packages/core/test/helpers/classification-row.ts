import { expect } from 'vitest'
import type { Classification, Classifier } from '../../src/classify/index.js'

/** One expected classification: the SQL text, its target, reason and (optional) transaction field. */
export type Row = [
  sql: string,
  target: 'primary' | 'replica',
  reason: Classification['reason'],
  transaction?: Classification['transaction'],
]

/** Asserts that `classifier` classifies the row's text exactly as the row says. */
export function checkRow(classifier: Classifier, [sql, target, reason, transaction]: Row): void {
  const expected: Classification =
    transaction === undefined ? { target, reason } : { target, reason, transaction }
  expect(classifier.classify(sql)).toEqual(expected)
}
