import { useCallback, useEffect, useState } from 'preact/hooks'

export type Loaded<T> =
  | { state: 'loading' }
  | { state: 'error'; message: string; status: number | null }
  | { state: 'ready'; value: T }

/** Runs `load` when `key` changes; `reload()` runs it again (after a change). */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' })
  const [round, setRound] = useState(0)
  useEffect(() => {
    let live = true
    load().then(
      (value) => live && setLoaded({ state: 'ready', value }),
      (err: unknown) =>
        live &&
        setLoaded({
          state: 'error',
          message: err instanceof Error ? err.message : String(err),
          status:
            typeof err === 'object' && err !== null && 'status' in err ? Number(err.status) : null,
        }),
    )
    return () => {
      live = false
    }
    // `load` is a new closure each render; `key` says when it asks for something else.
  }, [key, round])
  const reload = useCallback(() => setRound((n) => n + 1), [])
  return [loaded, reload]
}
