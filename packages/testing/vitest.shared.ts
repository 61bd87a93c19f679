import { defineConfig } from 'vitest/config'

// Shared by every package's vitest.config.ts: workspace packages resolve to their TypeScript
// sources, and integration files (which share one Redis per file) run one at a time.
export default defineConfig({
  resolve: { conditions: ['@outbound/source'] },
  ssr: { resolve: { conditions: ['@outbound/source'] } },
  test: {
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    passWithNoTests: false,
  },
})
