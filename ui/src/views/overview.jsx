import { useEffect } from 'preact/hooks';
import { useAPI } from '../hooks.js';
import { ms, num, pct, short, when } from '../format.js';

export function RunsTable({ runs }) {
  if (!runs.length) return <p class="muted">None.</p>;
  return (
    <table>
      <thead><tr><th>Run</th><th>Profile</th><th>Status</th><th>Created</th><th>By</th><th>Result</th></tr></thead>
      <tbody>{runs.map((r) => (
        <tr>
          <td><a href={`/runs/${r.id}`}>{short(r.id)}</a></td>
          <td>{r.profile_name ? <a href={`/profiles/${r.profile_name}`}>{r.profile_name}</a> : <span class="muted">ad hoc</span>}</td>
          <td><span class={`status ${r.status}`}>{r.status}</span></td>
          <td>{when(r.created_at)}</td>
          <td>{r.triggered_by}</td>
          <td>{r.result_id ? <a href={`/results/${r.result_id}`}>{short(r.result_id)}</a> : '–'}</td>
        </tr>
      ))}</tbody>
    </table>
  );
}

export function Overview() {
  const runs = useAPI('/runs?limit=20');
  const schedules = useAPI('/schedules');
  const agents = useAPI('/agents');
  const clusters = useAPI('/clusters');
  const results = useAPI('/results?limit=5');
  useEffect(() => { // running runs move: refresh while any is live
    const live = (runs.data?.items || []).some((r) => r.status === 'queued' || r.status === 'running');
    if (!live) return;
    const t = setTimeout(runs.reload, 2000);
    return () => clearTimeout(t);
  }, [runs.data]);
  const all = runs.data?.items || [];
  const active = all.filter((r) => r.status === 'queued' || r.status === 'running');
  const next = (schedules.data?.items || []).filter((s) => !s.paused && s.next?.length)
    .map((s) => ({ ...s, at: s.next[0] })).sort((a, b) => a.at.localeCompare(b.at)).slice(0, 5);
  return (
    <div class="overview" id="overview">
      <h1>Overview</h1>
      <div class="grid2">
        <section class="card"><h2>Running now</h2><RunsTable runs={active} /></section>
        <section class="card"><h2>Next schedule firings</h2>
          {next.length ? <ul>{next.map((s) => <li>{when(s.at)} · <a href="/schedules">{s.name}</a></li>)}</ul> : <p class="muted">None.</p>}
        </section>
        <section class="card"><h2>Agents</h2>
          {agents.data?.items?.length ? (
            <table><thead><tr><th>Name</th><th>Cores</th><th>Busy</th><th>Alive</th></tr></thead>
              <tbody>{agents.data.items.map((a) => <tr><td>{a.name}</td><td>{a.cores}</td><td>{a.busy || '–'}</td><td>{a.alive ? 'yes' : 'no'}</td></tr>)}</tbody></table>
          ) : <p class="muted">No agents connected: runs use the server's own generator.</p>}
        </section>
        <section class="card"><h2><a href="/clusters">Clusters</a></h2>
          {clusters.error ? <p class="muted">{clusters.error.message}</p> : clusters.data?.items?.length ? (
            <table><thead><tr><th>Name</th><th>State</th><th>Nodes</th><th>Checked</th></tr></thead>
              <tbody>{clusters.data.items.map((c) => <tr><td>{c.name}</td><td><span class={`status ${c.state}`}>{c.state}</span></td><td>{c.node_count}</td><td>{when(c.last_check)}</td></tr>)}</tbody></table>
          ) : <p class="muted">No clusters connected.</p>}
        </section>
      </div>
      <section class="card"><h2>Latest results</h2>
        {results.data?.items?.length ? (
          <table><thead><tr><th>Result</th><th>Profile</th><th>Status</th><th>rps</th><th>p50</th><th>p99</th><th>errors</th></tr></thead>
            <tbody>{results.data.items.map((r) => (
              <tr><td><a href={`/results/${r.id}`}>{r.name || short(r.id)}</a></td><td>{r.profile_name || '–'}</td><td><span class={`status ${r.status}`}>{r.status}</span></td>
                <td>{num(r.actual_rps)}</td><td>{ms(r.p50_ms)}</td><td>{ms(r.p99_ms)}</td><td>{pct(r.error_rate)}</td></tr>
            ))}</tbody></table>
        ) : <p class="muted">No results yet.</p>}
      </section>
      <section class="card"><h2>Recent runs</h2>{runs.error ? <p class="error">{runs.error.message}</p> : <RunsTable runs={all.slice(0, 10)} />}</section>
    </div>
  );
}
