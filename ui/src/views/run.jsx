import { useEffect, useState } from 'preact/hooks';
import { api, events } from '../api.js';
import { Chart, palette, secondAxis } from '../chart.jsx';
import { ms, num, short } from '../format.js';

// Run follows a run live: a point per second of rate, p50/p99 and errors per second.
export function Run({ id, theme, user }) {
  const [run, setRun] = useState(null);
  const [points, setPoints] = useState([[], [], [], [], []]); // second, rps, p50, p99, errors/s
  const [last, setLast] = useState(null);
  const [end, setEnd] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setPoints([[], [], [], [], []]); setEnd(null); setLast(null);
    let prevFailures = 0;
    return events(id, (type, data) => {
      if (type === 'status') setRun(data);
      else if (type === 'progress') {
        setLast(data);
        const errs = Math.max(0, data.Failures - prevFailures);
        prevFailures = data.Failures;
        setPoints((p) => [[...p[0], data.Index], [...p[1], data.RPS], [...p[2], data.P50Ms], [...p[3], data.P99Ms], [...p[4], errs]]);
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
      <div class="grid2">
        <Chart name="live-latency" title="Latency (ms) per second" theme={theme} axes={[secondAxis, {}]} data={[points[0], points[2], points[3]]}
          series={[{ label: 'p50', stroke: palette[0], width: 2 }, { label: 'p99', stroke: palette[1], width: 2 }]} />
        <Chart name="live-rate" title="Rate and errors per second" theme={theme} axes={[secondAxis, {}]} data={[points[0], points[1], points[4]]}
          series={[{ label: 'req/s', stroke: palette[2], width: 2 }, { label: 'errors/s', stroke: palette[1], width: 2 }]} />
      </div>
    </div>
  );
}
