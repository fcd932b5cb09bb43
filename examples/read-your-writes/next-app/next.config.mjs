/**
 * The workspace's packages are TypeScript sources (the `pgroute-source` export condition): Next.js compiles them
 * like the app's own files. An application installing `@pgroute/core` and `@pgroute/http` from npm needs none of
 * this: an empty config works.
 */
export default {
  transpilePackages: ['@pgroute/core', '@pgroute/http'],
  typescript: { ignoreBuildErrors: true },
  webpack(config) {
    config.resolve.conditionNames = ['pgroute-source', ...(config.resolve.conditionNames ?? ['...'])]
    config.resolve.extensionAlias = { ...config.resolve.extensionAlias, '.js': ['.ts', '.js'] }
    return config
  },
}
