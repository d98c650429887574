import { useEffect, useState } from 'preact/hooks';
import { api, events } from '../api.js';
import { Chart, palette, secondAxis } from '../chart.jsx';
import { ms, num, short } from '../format.js';

// PerSource shows each source's (each agent's) share of the run: its last second and
// its rate per second. A run of one source shows nothing more than the totals.
function PerSource({ seconds, theme }) {
  const names = [...new Set(seconds.flatMap((s) => s.sources.map((x) => x.Source)))].sort();
  if (names.length < 2) return null;
  const lastOf = (name) => {
    for (let i = seconds.length - 1; i >= 0; i--) {
      const x = seconds[i].sources.find((y) => y.Source === name);
      if (x) return x;
    }
    return null;
  };
  const data = [seconds.map((s) => s.index), ...names.map((n) => seconds.map((s) => s.sources.find((x) => x.Source === n)?.RPS ?? null))];
  return (
    <div class="grid2" id="per-source">
      <section class="card"><h2>Per agent, last second</h2>
        <table><thead><tr><th>Source</th><th>req/s</th><th>p50</th><th>p99</th><th>failures</th></tr></thead>
          <tbody>{names.map((n, i) => {
            const x = lastOf(n);
            return (
              <tr data-source={n}><td><span class="swatch" style={{ background: palette[i % palette.length] }} />{n}</td><td class="num">{num(x?.RPS)}</td>
                <td class="num">{ms(x?.P50Ms)}</td><td class="num">{ms(x?.P99Ms)}</td><td class="num">{num(x?.Failures, 0)}</td></tr>
            );
          })}</tbody></table>
      </section>
      <Chart name="live-per-source" title="Rate per agent (req/s)" theme={theme} axes={[secondAxis, {}]} data={data}
        series={names.map((n, i) => ({ label: n, stroke: palette[i % palette.length], width: 2, spanGaps: true }))} />
    </div>
  );
}

// Run follows a run live: a point per second of rate, p50/p99 and errors per second.
export function Run({ id, theme, user }) {
  const [run, setRun] = useState(null);
  const [points, setPoints] = useState([[], [], [], [], []]); // second, rps, p50, p99, errors/s
  const [perSource, setPerSource] = useState([]); // each second's sources (agents), as sent
  const [last, setLast] = useState(null);
  const [end, setEnd] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setPoints([[], [], [], [], []]); setPerSource([]); setEnd(null); setLast(null);
    let prevFailures = 0;
    return events(id, (type, data) => {
      if (type === 'status') setRun(data);
      else if (type === 'progress') {
        setLast(data);
        const errs = Math.max(0, data.Failures - prevFailures);
        prevFailures = data.Failures;
        setPoints((p) => [[...p[0], data.Index], [...p[1], data.RPS], [...p[2], data.P50Ms], [...p[3], data.P99Ms], [...p[4], errs]]);
        setPerSource((s) => [...s, { index: data.Index, sources: data.Sources || [] }]);
      } else if (type === 'end') {
        setEnd(data);
        api(`/runs/${id}`).then(setRun, () => {});
      } else if (type === 'error') setError(data.message);
    }, (e) => setError(e.message));
  }, [id]);
  const cancel = () => api(`/runs/${id}/cancel`, { method: 'POST' }).catch((e) => setError(e.message));
  const status = end?.status || run?.status || 'connecting';
  const live = status === 'queued' || status === 'running';
  return (
    <div id="run">
      <h1>Run {short(id)} <span class={`status ${status}`} id="run-status">{status}</span></h1>
      {run && <p class="muted">{run.profile_name ? `profile ${run.profile_name} v${run.profile_version}` : 'ad hoc'} · by {run.triggered_by}</p>}
      {error && <p class="error">{error}</p>}
      {end?.error && <p class="error">{end.error}</p>}
      <div class="stats">
        <div><span>rate</span><strong>{last ? num(last.RPS) : '–'}</strong> req/s</div>
        <div><span>p50</span><strong>{last ? ms(last.P50Ms) : '–'}</strong></div>
        <div><span>p99</span><strong>{last ? ms(last.P99Ms) : '–'}</strong></div>
        <div><span>requests</span><strong>{last ? num(last.SoFar, 0) : '–'}</strong></div>
        <div><span>failures</span><strong>{last ? num(last.Failures, 0) : '–'}</strong></div>
      </div>
      <div class="actions">
        {live && user.role !== 'viewer' && <button type="button" onClick={cancel} id="cancel">Cancel</button>}
        {end?.result_id && <a class="button primary" href={`/results/${end.result_id}`} id="open-result">Open the result</a>}
      </div>
      <PerSource seconds={perSource} theme={theme} />
      <div class="grid2">
        <Chart name="live-latency" title="Latency (ms) per second" theme={theme} axes={[secondAxis, {}]} data={[points[0], points[2], points[3]]}
          series={[{ label: 'p50', stroke: palette[0], width: 2 }, { label: 'p99', stroke: palette[1], width: 2 }]} />
        <Chart name="live-rate" title="Rate and errors per second" theme={theme} axes={[secondAxis, {}]} data={[points[0], points[1], points[4]]}
          series={[{ label: 'req/s', stroke: palette[2], width: 2 }, { label: 'errors/s', stroke: palette[1], width: 2 }]} />
      </div>
    </div>
  );
}
