// Chart draws a uPlot chart that follows its data; colours come from the theme.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';

export const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#475569'];

function themeColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function axis(extra) {
  const fg = themeColor('--muted');
  return { stroke: fg, grid: { stroke: themeColor('--grid'), width: 1 }, ticks: { stroke: themeColor('--grid') }, ...extra };
}

// Chart props: title, series (uPlot series after x), data ([x[], y1[], ...]), axes,
// scales, height. The container says how many points it drew (data-points), so a
// test can tell a drawn chart from an empty one.
export function Chart({ title, series, data, axes, scales, height = 240, name, theme, hooks }) {
  const el = useRef(null);
  const plot = useRef(null);
  const shape = JSON.stringify([series.map((s) => [s.label, s.dash]), theme, scales && Object.keys(scales)]);
  useEffect(() => {
    const opts = {
      width: el.current.clientWidth || 640,
      height,
      scales: scales || { x: { time: false } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [{}, ...series],
      hooks: hooks || {},
      axes: (axes || [{}, {}]).map((a) => axis(a)),
    };
    plot.current = new uPlot(opts, data, el.current);
    const resize = () => plot.current.setSize({ width: el.current.clientWidth || 640, height });
    addEventListener('resize', resize);
    return () => { removeEventListener('resize', resize); plot.current.destroy(); plot.current = null; };
  }, [shape]);
  useEffect(() => { if (plot.current) plot.current.setData(data); }, [data]);
  const points = data[0] ? data[0].length : 0;
  return (
    <figure class="chart" data-chart={name || title} data-points={points} data-series={series.length}>
      <figcaption>{title}</figcaption>
      <div ref={el} />
    </figure>
  );
}

// secondAxis is an x axis of whole seconds.
export const secondAxis = { label: 'second', incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600] };

// bars draws a histogram.
export const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 60] }) : undefined;

// percentileX puts percentile p on the axis of "nines": 90 → 10, 99 → 100...
export const percentileX = (p) => 1 / (1 - p / 100);

// percentileLabel labels the powers of ten of that axis (uPlot passes null for the
// ticks it leaves unlabelled).
export function percentileLabel(x) {
  if (x == null || Math.abs(Math.log10(x) - Math.round(Math.log10(x))) > 1e-9) return null;
  const p = 100 * (1 - 1 / x);
  return p <= 0 ? '0%' : `${+p.toPrecision(6)}%`;
}
