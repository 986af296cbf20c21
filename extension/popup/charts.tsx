/**
 * Small inline-SVG line charts for the popup (LR finder, loss curves). A chart library
 * would outweigh the whole popup; these need axes, a log x-axis and a marker, no more.
 */

export interface Series {
  points: [number, number][];
  color: string;
  width?: number;
  label?: string;
  dashed?: boolean;
}

export interface Marker {
  x: number;
  label: string;
  color?: string;
  /** Also mark the point (x, y) on the curve. */
  y?: number;
}

export interface ChartProps {
  id?: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  markers?: Marker[];
  /** Vertical separators, e.g. where stage 2 starts. */
  dividers?: { x: number; label: string }[];
  width?: number;
  height?: number;
  /** Clip y to this range: the LR finder's last points shoot up and would flatten the rest. */
  yMax?: number;
}

/** Round tick values covering [lo, hi]: 1, 2 or 5 times a power of ten apart. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Powers of ten within [lo, hi] (both > 0), thinned to at most `count`. */
export function logTicks(lo: number, hi: number, count = 6): number[] {
  if (!(lo > 0) || !(hi > 0) || hi < lo) return [];
  const first = Math.ceil(Math.log10(lo) - 1e-9);
  const last = Math.floor(Math.log10(hi) + 1e-9);
  const every = Math.max(1, Math.ceil((last - first + 1) / count));
  const ticks: number[] = [];
  for (let e = first; e <= last; e += every) ticks.push(Number(`1e${e}`));
  return ticks;
}

export function formatNumber(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e4 || abs < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}

export function LineChart({ id, series, xLabel, yLabel, logX = false, markers = [], dividers = [], width = 390, height = 170, yMax }: ChartProps) {
  const pad = { left: 44, right: 10, top: 10, bottom: 32 };
  const fx = (x: number): number => (logX ? Math.log10(x) : x);
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(y) && (!logX || x > 0));
  if (all.length === 0) {
    return (
      <svg id={id} width={width} height={height} class="chart" role="img" aria-label={`${yLabel} against ${xLabel}: no data yet`}>
        <text x={width / 2} y={height / 2} text-anchor="middle" class="chart-empty">
          no data yet
        </text>
      </svg>
    );
  }
  const xs = all.map(([x]) => fx(x));
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x1 === x0) (x0 -= 1), (x1 += 1);
  const ys = all.map(([, y]) => y);
  let y0 = Math.min(...ys);
  let y1 = Math.min(Math.max(...ys), yMax ?? Infinity);
  if (y1 <= y0) (y0 -= 0.5), (y1 = y0 + 1);
  const margin = (y1 - y0) * 0.05;
  y0 -= margin;
  y1 += margin;
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const px = (x: number): number => pad.left + ((fx(x) - x0) / (x1 - x0)) * plotW;
  const py = (y: number): number => pad.top + (1 - (Math.min(y, y1) - y0) / (y1 - y0)) * plotH;
  const xTicks = logX ? logTicks(10 ** x0, 10 ** x1) : linearTicks(x0, x1);
  const yTicks = linearTicks(y0, y1, 4);
  const path = (points: [number, number][]): string =>
    points
      .filter(([x, y]) => Number.isFinite(y) && (!logX || x > 0))
      .map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join('');
  const legend = series.filter((s) => s.label);
  return (
    <figure class="chart-box">
      <svg id={id} width={width} height={height} class="chart" role="img" aria-label={`${yLabel} against ${xLabel}`}>
        <rect x={pad.left} y={pad.top} width={plotW} height={plotH} fill="#fff" stroke="#ccc" />
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line x1={pad.left} x2={pad.left + plotW} y1={py(t)} y2={py(t)} stroke="#eee" />
            <text x={pad.left - 4} y={py(t) + 3} text-anchor="end" class="tick">
              {formatNumber(t)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <g key={`x${t}`}>
            <line x1={px(t)} x2={px(t)} y1={pad.top + plotH} y2={pad.top + plotH + 4} stroke="#888" />
            <text x={px(t)} y={pad.top + plotH + 14} text-anchor="middle" class="tick">
              {formatNumber(t)}
            </text>
          </g>
        ))}
        {dividers.map((d) => (
          <g key={`d${d.x}`}>
            <line x1={px(d.x)} x2={px(d.x)} y1={pad.top} y2={pad.top + plotH} stroke="#999" stroke-dasharray="3 3" />
            <text x={px(d.x) + 3} y={pad.top + 10} class="tick">
              {d.label}
            </text>
          </g>
        ))}
        {series.map((s, i) => (
          <path key={i} d={path(s.points)} fill="none" stroke={s.color} stroke-width={s.width ?? 1.5} stroke-dasharray={s.dashed ? '4 3' : undefined}>
            {s.label && <title>{s.label}</title>}
          </path>
        ))}
        {markers
          .filter((m) => !logX || m.x > 0)
          .map((m) => {
            const x = px(m.x);
            const right = x > pad.left + plotW * 0.6;
            return (
              <g key={`m${m.x}`} class="marker" data-x={m.x}>
                <line x1={x} x2={x} y1={pad.top} y2={pad.top + plotH} stroke={m.color ?? '#c62828'} stroke-width={1.5} />
                {m.y !== undefined && Number.isFinite(m.y) && <circle cx={x} cy={py(m.y)} r={4} fill={m.color ?? '#c62828'} />}
                <text x={right ? x - 4 : x + 4} y={pad.top + plotH - 6} text-anchor={right ? 'end' : 'start'} class="marker-label" fill={m.color ?? '#c62828'}>
                  {m.label}
                </text>
              </g>
            );
          })}
        <text x={pad.left + plotW / 2} y={height - 4} text-anchor="middle" class="axis-label">
          {xLabel}
        </text>
        <text x={11} y={pad.top + plotH / 2} text-anchor="middle" class="axis-label" transform={`rotate(-90 11 ${pad.top + plotH / 2})`}>
          {yLabel}
        </text>
      </svg>
      {legend.length > 0 && (
        <figcaption class="chart-legend">
          {legend.map((s) => (
            <span key={s.label}>
              <svg width={16} height={8}>
                <line x1={0} x2={16} y1={4} y2={4} stroke={s.color} stroke-width={2} stroke-dasharray={s.dashed ? '4 3' : undefined} />
              </svg>{' '}
              {s.label}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}
