import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export type Series = { label: string; values: number[]; color: string; dash?: number[] }

/**
 * A time-series chart (uPlot: about 20 kB gzipped, canvas, no dependencies). The figures are
 * also in the table beside it, for screen readers and for copying.
 */
export function Chart({
  title,
  times,
  series,
  formatValue,
  height = 240,
}: {
  title: string
  /** Bucket starts, Unix seconds. */
  times: number[]
  series: Series[]
  formatValue?: (value: number) => string
  height?: number
}) {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const element = box.current
    if (element === null) return
    const width = () => Math.max(280, element.clientWidth)
    const plot = new uPlot(
      {
        width: width(),
        height,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            ...(s.dash === undefined ? {} : { dash: s.dash }),
            ...(formatValue === undefined
              ? {}
              : { value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatValue(v)) }),
          })),
        ],
        axes: [
          {},
          formatValue === undefined
            ? {}
            : { size: 70, values: (_u: uPlot, values: number[]) => values.map(formatValue) },
        ],
        scales: { y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, 1e-9)] } },
      },
      [times, ...series.map((s) => s.values)],
      element,
    )
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height }))
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.destroy()
    }
  }, [times, series, height, formatValue])
  return <figure class="chart" aria-label={title} ref={box} />
}
