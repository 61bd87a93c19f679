/** Collects every problem with an environment so one ConfigError can name them all. */
export class ConfigError extends Error {
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export type Env = Readonly<Record<string, string | undefined>>

/** Reads variables strictly, remembering each problem instead of stopping at the first. */
export class EnvReader {
  readonly problems: string[] = []

  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name)
    if (value === undefined) return fallback
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${value}")`)
      return fallback
    }
    return Number(value)
  }

  /** true/false/1/0 only (STYLE.md §6). */
  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)
    if (value === undefined) return fallback
    if (value === 'true' || value === '1') return true
    if (value === 'false' || value === '0') return false
    this.problems.push(`${name} must be true, false, 1 or 0 (got "${value}")`)
    return fallback
  }

  optionalInt(name: string, min: number, max: number): number | undefined {
    return this.raw(name) === undefined ? undefined : this.int(name, min, min, max)
  }

  oneOf<T extends string>(
    name: string,
    allowed: readonly T[],
    fallback: T,
    value = this.raw(name),
  ): T {
    if (value === undefined) return fallback
    const match = allowed.find((candidate) => candidate === value)
    if (match === undefined) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`)
      return fallback
    }
    return match
  }

  /** A URL whose scheme is one of `schemes`; the value is never echoed since it may hold a password. */
  url(name: string, schemes: readonly string[]): string | undefined {
    const value = this.raw(name)
    if (value === undefined) return undefined
    let scheme: string
    try {
      scheme = new URL(value).protocol.replace(/:$/, '')
    } catch {
      this.problems.push(`${name} is not a valid URL`)
      return undefined
    }
    if (!schemes.includes(scheme)) {
      this.problems.push(
        `${name} must use one of the schemes ${schemes.join(', ')} (got "${scheme}")`,
      )
      return undefined
    }
    return value
  }

  list(name: string): string[] {
    return (this.raw(name) ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
  }

  problem(message: string): void {
    this.problems.push(message)
  }

  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems)
  }
}
