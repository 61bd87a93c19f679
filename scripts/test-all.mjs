// @ts-check
// `pnpm test`: each workspace package's tests, one package at a time (the integration files of a
// package run one at a time too, as its vitest config says), then one line for the whole run:
// `N passed, N failed[, N skipped]`. Exits non-zero when anything failed.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import process from 'node:process'

const root = resolve(import.meta.dirname, '..')
const WORKSPACE_DIRS = ['packages', 'services']

/** @typedef {{ name: string, dir: string, script: string }} Workspace */

/** @returns {Workspace[]} every package with a `test` script, in name order */
function workspaces() {
  return WORKSPACE_DIRS.flatMap((parent) =>
    readdirSync(join(root, parent), { withFileTypes: true })
      .filter(
        (entry) =>
          entry.isDirectory() && existsSync(join(root, parent, entry.name, 'package.json')),
      )
      .map((entry) => {
        const dir = join(root, parent, entry.name)
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
        return { name: manifest.name, dir, script: manifest.scripts?.test ?? '' }
      }),
  )
    .filter((workspace) => workspace.script !== '')
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** pnpm as it runs this script (npm_execpath), else the `pnpm` on PATH. */
function pnpmCommand() {
  const execPath = process.env['npm_execpath'] ?? ''
  if (/pnpm/.test(execPath))
    return /\.c?js$/.test(execPath) ? [process.execPath, execPath] : [execPath]
  return ['pnpm']
}

/**
 * @param {string} file a vitest JSON report
 * @returns {{ passed: number, failed: number, skipped: number, failedFiles: number } | undefined}
 */
function readReport(file) {
  if (!existsSync(file)) return undefined
  const report = JSON.parse(readFileSync(file, 'utf8'))
  return {
    passed: report.numPassedTests ?? 0,
    failed: report.numFailedTests ?? 0,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    failedFiles: report.numFailedTestSuites ?? 0,
  }
}

const reports = mkdtempSync(join(tmpdir(), 'outbound-test-reports-'))
const [command = 'pnpm', ...commandArgs] = pnpmCommand()
const totals = { passed: 0, failed: 0, skipped: 0 }
/** @type {string[]} */
const failedPackages = []
try {
  for (const workspace of workspaces()) {
    const isVitest = /^vitest( |$)/.test(workspace.script)
    const reportFile = join(reports, `${workspace.name.replace(/[^a-z0-9-]/gi, '_')}.json`)
    const extra = isVitest
      ? ['--reporter=default', '--reporter=json', `--outputFile=${reportFile}`]
      : []
    process.stdout.write(`\n── ${workspace.name}\n`)
    const run = spawnSync(command, [...commandArgs, 'run', 'test', ...extra], {
      cwd: workspace.dir,
      stdio: 'inherit',
    })
    if (!isVitest) {
      if (run.status !== 0) failedPackages.push(workspace.name)
      continue
    }
    const counts = readReport(reportFile)
    totals.passed += counts?.passed ?? 0
    totals.skipped += counts?.skipped ?? 0
    totals.failed += counts?.failed ?? 0
    if (run.status !== 0 || counts === undefined || counts.failed > 0 || counts.failedFiles > 0) {
      failedPackages.push(workspace.name)
      // A file that failed to load, or a run that crashed, counts as one failure.
      if ((counts?.failed ?? 0) === 0) totals.failed += Math.max(1, counts?.failedFiles ?? 0)
    }
  }
} finally {
  rmSync(reports, { recursive: true, force: true })
}

process.stdout.write('\n')
if (failedPackages.length > 0) process.stdout.write(`failed in: ${failedPackages.join(', ')}\n`)
const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : ''
process.stdout.write(`${totals.passed} passed, ${totals.failed} failed${skipped}\n`)
process.exitCode = failedPackages.length > 0 ? 1 : 0
