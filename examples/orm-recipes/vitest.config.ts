import { mergeConfig } from 'vitest/config'
import { project } from '../../vitest.shared.js'

export default mergeConfig(project('orm-recipes'), {
  test: {
    // A zone far from UTC (+13:45), so that a `timestamp` parsed in the wrong zone shows as a shifted value.
    env: { TZ: 'Pacific/Chatham' },
  },
})
