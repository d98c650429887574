// The Prometheus series a run kept (result.metrics) and the resource summary read from
// them: the same sums, means and maxima as the server's (smp/resources.go).
import uPlot from 'uplot';
import { Chart, palette, secondAxis } from '../chart.jsx';
import { num } from '../format.js';

export const resourceRoles = [
  ['proxy_cpu', 'proxy CPU'], ['proxy_memory', 'proxy memory'],
  ['control_plane_cpu', 'control-plane CPU'], ['control_plane_memory', 'control-plane memory'],
];

// bytes shows memory in MiB or GiB; cores with three decimals.
export function resourceFmt(v, unit) {
  if (v == null) return '–';
  if (unit === 'bytes') return v >= 1 << 30 ? `${num(v / (1 << 30), 2)} GiB` : `${num(v / (1 << 20), 1)} MiB`;
  if (unit === 'cores') return `${num(v, 3)} cores`;
  return `${num(v, 3)}${unit ? ` ${unit}` : ''}`;
}

// roleValues sums a role's series per instant, as the server does: several pods are
// one figure.
function roleValues(q) {
  const at = new Map();
  for (const s of q.series || []) {
    for (const p of s.points || []) if (p.length === 2) at.set(p[0], (at.get(p[0]) || 0) + p[1]);
  }
  return [...at.keys()].sort((a, b) => a - b).map((t) => at.get(t));
}

// resourceFigures: per role the query found, its mean, max, unit and status.
export function resourceFigures(metrics) {
  const out = {};
  for (const [role] of resourceRoles) {
    const q = (metrics?.queries || []).find((x) => x.role === role);
    if (!q) continue;
    const vals = roleValues(q);
    const f = { query: q.name, unit: q.unit, status: q.status, reason: q.reason, points: vals.length };
    if (vals.length) {
      f.mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      f.max = Math.max(...vals);
    } else if (f.status === 'ok') Object.assign(f, { status: 'missing', reason: 'no points in the window' });
    out[role] = f;
  }
  return out;
}

const seriesName = (labels) => {
  const e = Object.entries(labels || {});
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : 'value';
};

// Resources: the resource section of one result.
export function Resources({ metrics }) {
  const figures = resourceFigures(metrics);
  const rows = resourceRoles.filter(([role]) => figures[role]);
  if (!rows.length) return null;
  return (
    <section class="card" id="resources"><h2>Resources <span class="muted">(mean and max over the measured window)</span></h2>
      <table><thead><tr><th>Role</th><th>Query</th><th>Mean</th><th>Max</th><th>Points</th><th /></tr></thead>
        <tbody>{rows.map(([role, label]) => {
          const f = figures[role];
          return (
            <tr data-role={role}><td>{label}</td><td><code>{f.query}</code></td><td class="num">{resourceFmt(f.mean, f.unit)}</td>
              <td class="num">{resourceFmt(f.max, f.unit)}</td><td class="num">{f.points}</td>
              <td>{f.status === 'ok' ? <span class="status completed">ok</span> : <><span class="status failed">missing</span> <span class="muted">{f.reason}</span></>}</td></tr>
          );
        })}</tbody></table>
    </section>
  );
}

// Metrics: one chart per query that returned series; the missing ones with their reason.
export function Metrics({ metrics, theme }) {
  if (!metrics?.queries?.length) return null;
  const start = Date.parse(metrics.start) / 1000;
  const missing = metrics.queries.filter((q) => q.status !== 'ok' || !q.series?.length);
  const drawn = metrics.queries.filter((q) => q.status === 'ok' && q.series?.length);
  return (
    <section id="prometheus"><h2>Prometheus <span class="muted">{metrics.source} · step {metrics.step}</span></h2>
      {missing.length > 0 && (
        <section class="card" id="metrics-missing"><table><tbody>{missing.map((q) => (
          <tr><td><code>{q.name}</code></td><td><span class="status failed">missing</span></td><td class="muted">{q.reason || 'no series'}</td></tr>
        ))}</tbody></table></section>
      )}
      <div class="grid2">{drawn.map((q) => {
        // each series on the window's seconds; uPlot.join aligns differing instants
        const data = uPlot.join(q.series.map((s) => [s.points.map((p) => p[0] - start), s.points.map((p) => p[1])]));
        const series = q.series.map((s, i) => ({ label: seriesName(s.labels), stroke: palette[i % palette.length], width: 2, spanGaps: true,
          value: (u, v) => resourceFmt(v, q.unit) }));
        return <Chart name={`metric-${q.name}`} title={`${q.name}${q.unit ? ` (${q.unit})` : ''}`} theme={theme} data={data} series={series}
          axes={[{ ...secondAxis, label: 'second of the window' }, { size: 80, values: (u, vs) => vs.map((v) => resourceFmt(v, q.unit === 'bytes' ? 'bytes' : '')) }]} />;
      })}</div>
    </section>
  );
}
