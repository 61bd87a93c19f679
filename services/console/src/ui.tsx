import { useEffect, useRef } from 'preact/hooks'
import type { ComponentChildren } from 'preact'
import type { Loaded } from './use-load.js'

/** A status word with its colour (never the colour alone: the word is always there). */
export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z-]/g, '')}`}>{value}</span>
}

/** An error or note the screen reader announces. */
export function Notice({
  kind,
  children,
}: {
  kind: 'error' | 'ok' | 'info'
  children: ComponentChildren
}) {
  return (
    <p class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  )
}

/** Loading, error or the content for a value. */
export function Show<T>({
  loaded,
  children,
}: {
  loaded: Loaded<T>
  children: (value: T) => ComponentChildren
}) {
  if (loaded.state === 'loading')
    return (
      <p class="muted" aria-busy="true">
        Loading…
      </p>
    )
  if (loaded.state === 'error') return <Notice kind="error">{loaded.message}</Notice>
  return <>{children(loaded.value)}</>
}

/**
 * A page's heading. It takes the focus when it appears (a page opened, or its content loaded), so
 * that keyboard and screen reader users land on the new content rather than on the link they left.
 */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [])
  return (
    <h1 tabIndex={-1} id="page-title" ref={heading}>
      {children}
    </h1>
  )
}

/** A text field of a submitted form, trimmed ('' when absent or a file). */
export function formText(form: FormData, name: string): string {
  const value = form.get(name)
  return typeof value === 'string' ? value.trim() : ''
}
