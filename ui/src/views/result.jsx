import { useState } from 'preact/hooks';
import { download } from '../api.js';
import { Chart, secondAxis, bars, palette, percentileLabel, percentileX } from '../chart.jsx';
import { useAPI } from '../hooks.js';
import { ms, num, pct, when } from '../format.js';
import { Metrics, Resources } from './metrics.jsx';

export const logScales = { x: { time: false, distr: 3, log: 10 }, y: { distr: 3, log: 10 } };
export const percentileAxes = [{ label: 'percentile', values: (u, v) => v.map(percentileLabel) }, { label: 'ms' }];

function Counts({ title, counts }) {
  const rows = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  return (
    <section class="card"><h2>{title}</h2>
      {rows.length ? <table><tbody>{rows.map(([k, v]) => <tr><td>{k}</td><td class="num">{num(v, 0)}</td></tr>)}</tbody></table> : <p class="muted">None.</p>}
    </section>
  );
}

export function Result({ id, theme }) {
  const { data: r, error } = useAPI(`/results/${encodeURIComponent(id)}?intervals=false`);
  const { data: c } = useAPI(`/results/${encodeURIComponent(id)}/charts`);
  const [dlError, setDlError] = useState('');
  if (error) return <p class="error">{error.message}</p>;
  if (!r) return <p class="muted">Loading…</p>;
  const s = r.summary;
  const l = s.latency || {};
  const g = r.generator || {};
  const save = (format, ext) => download(r.id, format, `result-${r.id.slice(0, 8)}.${ext}`).catch((e) => setDlError(e.message));
  return (
    <div id="result">
      <h1>{r.name || `Result ${r.id.slice(0, 8)}`} <span class={`status ${r.status}`}>{r.status}</span></h1>
      <p class="muted">{when(r.start_time)} → {when(r.end_time)} · {Object.entries(r.labels || {}).map(([k, v]) => <span class="label">{k}={v}</span>)}</p>
      {r.status_reason && <p class="error">{r.status_reason}</p>}
      <div class="actions">
        <button type="button" onClick={() => save('json', 'json')}>Download JSON</button>
        <button type="button" onClick={() => save('smp', 'smp.yaml')}>Download SMP</button>
        <button type="button" onClick={() => save('csv', 'csv')}>Download CSV</button>
        <a class="button" href={`/results?profile=${encodeURIComponent(r.config?.name || '')}`}>Same profile</a>
        {dlError && <span class="error">{dlError}</span>}
      </div>
      <div class="stats">
        <div><span>requests</span><strong>{num(s.requests, 0)}</strong></div>
        <div><span>rate</span><strong>{num(s.actual_rps)}</strong> of {s.target_rps ? num(s.target_rps) : 'max'} req/s</div>
        <div><span>errors</span><strong>{pct(s.error_rate)}</strong></div>
        <div><span>p50</span><strong>{ms(l.p50_ms)}</strong></div>
        <div><span>p99</span><strong>{ms(l.p99_ms)}</strong></div>
        <div><span>p99.9</span><strong>{ms(l.p99_9_ms)}</strong></div>
        <div><span>max</span><strong>{ms(l.max_ms)}</strong></div>
      </div>
      {c && (
        <div class="grid2">
          <Chart name="latency-over-time" title="Latency over time (ms)" theme={theme}
            data={[c.series.second, c.series.p50_ms, c.series.p99_ms]}
            series={[{ label: 'p50', stroke: palette[0], width: 2 }, { label: 'p99', stroke: palette[1], width: 2 }]}
            axes={[secondAxis, {}]} />
          <Chart name="rate-over-time" title="Rate and errors per second" theme={theme}
            data={[c.series.second, c.series.rps, c.series.errors_per_second]}
            series={[{ label: 'req/s', stroke: palette[2], width: 2 }, { label: 'errors/s', stroke: palette[1], width: 2 }]}
            axes={[secondAxis, {}]} />
          <Chart name="percentiles" title={`Percentile curve (max ${ms(c.max_ms)})`} theme={theme} scales={logScales} axes={percentileAxes}
            data={[c.percentiles.map((p) => percentileX(p.percentile)), c.percentiles.map((p) => Math.max(p.ms, 0.001))]}
            series={[{ label: 'latency', stroke: palette[0], width: 2, value: (u, v) => ms(v) }]} />
          <Chart name="histogram" title="Latency histogram" theme={theme} scales={{ x: { time: false, distr: 3, log: 10 }, y: {} }}
            axes={[{ label: 'ms' }, { label: 'requests' }]}
            data={[c.histogram.map((b) => Math.sqrt(b.from_ms * b.to_ms)), c.histogram.map((b) => b.count)]}
            series={[{ label: 'requests', stroke: palette[0], fill: `${palette[0]}88`, paths: bars, points: { show: false } }]} />
        </div>
      )}
      <Resources metrics={r.metrics} />
      <Metrics metrics={r.metrics} theme={theme} />
      <div class="grid3">
        <Counts title="Status codes" counts={s.status_codes} />
        <Counts title="Errors" counts={s.errors} />
        <section class="card"><h2>Thresholds</h2>
          {r.thresholds?.length ? <table><tbody>{r.thresholds.map((t) => (
            <tr><td><code>{t.expr}</code></td><td>{t.observed}</td><td><span class={`status ${t.ok ? 'completed' : 'failed'}`}>{t.ok ? 'pass' : 'fail'}</span></td></tr>
          ))}</tbody></table> : <p class="muted">None set.</p>}
        </section>
      </div>
      {r.sources?.length > 0 && (
        <section class="card"><h2>Per source</h2>
          <table><thead><tr><th>Source</th><th>Engine</th><th>Requests</th><th>rps</th><th>p50</th><th>p99</th><th>errors</th></tr></thead>
            <tbody>{r.sources.map((x) => (
              <tr><td>{x.source}{x.dropped && <span class="badge warn">dropped</span>}</td><td>{x.engine}</td><td>{num(x.summary.requests, 0)}</td><td>{num(x.summary.actual_rps)}</td>
                <td>{ms(x.summary.latency?.p50_ms)}</td><td>{ms(x.summary.latency?.p99_ms)}</td><td>{pct(x.summary.error_rate)}</td></tr>
            ))}</tbody></table>
        </section>
      )}
      {r.server_view?.length > 0 && (
        <section class="card" id="server-view"><h2>The target's own view</h2>
          <table><thead><tr><th>Endpoint</th><th>Served</th><th>service p50</th><th>service p99</th><th>client p99</th><th>network</th><th /></tr></thead>
            <tbody>{r.server_view.map((v) => (
              <tr><td><code>{v.endpoint}</code></td><td>{num(v.requests, 0)}</td><td>{ms(v.service_time?.p50_ms)}</td><td>{ms(v.service_time?.p99_ms)}</td>
                <td>{ms(v.client_p99_ms)}</td><td>{ms(v.network_ms)}</td><td class="error">{v.warning}</td></tr>
            ))}</tbody></table>
        </section>
      )}
      <div class="grid2">
        <section class="card"><h2>Generator health</h2>
          <p><span class={`status ${g.saturated ? 'failed' : 'completed'}`}>{g.saturated ? 'saturated' : 'kept up'}</span> {g.reason}</p>
          <table><tbody>
            <tr><td>behind schedule p99 / max</td><td>{ms(g.behind_p99_ms)} / {ms(g.behind_max_ms)}</td></tr>
            <tr><td>missed sends</td><td>{num(g.missed_sends, 0)}</td></tr>
            <tr><td>waited for a connection</td><td>{pct(g.waited_for_connection)}</td></tr>
            <tr><td>CPU cores busy</td><td>{num(g.cpu_cores, 2)} of {g.usable_cores || '?'}</td></tr>
          </tbody></table>
        </section>
        <section class="card"><h2>Environment</h2><pre class="json">{JSON.stringify(r.environment, null, 2)}</pre></section>
      </div>
      {r.warnings?.length > 0 && <section class="card"><h2>Warnings</h2><ul>{r.warnings.map((w) => <li>{w}</li>)}</ul></section>}
    </div>
  );
}
