import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { useAPI } from '../hooks.js';
import { navigate } from '../router.js';
import { ms, num, pct, short, when } from '../format.js';

// Results lists results under the filters the URL carries; several selected are compared.
export function Results({ query }) {
  const [selected, setSelected] = useState([]);
  const filters = {
    profile: query.get('profile') || '', status: query.get('status') || '',
    label: query.getAll('label').join(' '), since: query.get('since') || '', until: query.get('until') || '',
  };
  const apiQuery = new URLSearchParams();
  if (filters.profile) apiQuery.set('profile', filters.profile);
  if (filters.status) apiQuery.set('status', filters.status);
  for (const l of query.getAll('label')) apiQuery.append('label', l);
  if (filters.since) apiQuery.set('since', new Date(filters.since).toISOString());
  if (filters.until) apiQuery.set('until', new Date(Date.parse(filters.until) + 86400e3).toISOString()); // the whole day
  apiQuery.set('limit', '100');
  const { data: first, error } = useAPI(`/results?${apiQuery}`);
  // Later pages (the API's cursor) append to the first.
  const [more, setMore] = useState({ items: [], cursor: null, error: null });
  useEffect(() => setMore({ items: [], cursor: null, error: null }), [first]);
  const next = more.cursor || first?.next_cursor;
  const loadMore = () => {
    const q = new URLSearchParams(apiQuery);
    q.set('cursor', next);
    api(`/results?${q}`).then((page) => setMore((m) => ({ items: [...m.items, ...page.items], cursor: page.next_cursor || '', error: null })),
      (e) => setMore((m) => ({ ...m, error: e })));
  };
  const exhausted = more.cursor === '';
  const data = first && { items: [...first.items, ...more.items] };

  const apply = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const q = new URLSearchParams();
    for (const k of ['profile', 'status', 'since', 'until']) if (f.get(k)) q.set(k, f.get(k));
    for (const l of String(f.get('label') || '').split(/\s+/).filter(Boolean)) q.append('label', l);
    navigate(`/results${q.toString() ? `?${q}` : ''}`);
  };
  const toggle = (id) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  return (
    <div id="results">
      <h1>Results</h1>
      <form class="filters" onSubmit={apply}>
        <label>Profile <input name="profile" value={filters.profile} /></label>
        <label>Labels <input name="label" placeholder="team=perf env=ci" value={filters.label} /></label>
        <label>Status <select name="status" value={filters.status}>
          <option value="">any</option><option>completed</option><option>partial</option><option>failed</option>
        </select></label>
        <label>Since <input type="date" name="since" value={filters.since} /></label>
        <label>Until <input type="date" name="until" value={filters.until} /></label>
        <button type="submit">Filter</button>
      </form>
      <div class="actions">
        <button type="button" class="primary" id="compare" disabled={selected.length < 2 || selected.length > 10}
          onClick={() => navigate(`/compare?ids=${selected.join(',')}`)}>Compare {selected.length || ''} selected</button>
        <span class="muted">the first selected is the baseline</span>
      </div>
      {error && <p class="error" id="results-error">{error.message}</p>}
      {data && (data.items.length ? (
        <table>
          <thead><tr><th /><th>Result</th><th>Profile</th><th>Status</th><th>Started</th><th>Requests</th><th>rps</th><th>p50</th><th>p99</th><th>p99.9</th><th>errors</th><th>Labels</th></tr></thead>
          <tbody>{data.items.map((r) => (
            <tr class={selected.includes(r.id) ? 'selected' : ''}>
              <td><input type="checkbox" class="pick" data-id={r.id} checked={selected.includes(r.id)} onChange={() => toggle(r.id)}
                aria-label={`select ${r.id}`} />{selected.indexOf(r.id) === 0 && <span class="badge">base</span>}</td>
              <td><a href={`/results/${r.id}`}>{r.name || short(r.id)}</a></td>
              <td>{r.profile_name ? `${r.profile_name} v${r.profile_version}` : '–'}</td>
              <td><span class={`status ${r.status}`}>{r.status}</span>{r.generator_saturated && <span class="badge warn" title="the generator could not keep up">saturated</span>}</td>
              <td>{when(r.start_time)}</td><td>{num(r.requests, 0)}</td><td>{num(r.actual_rps)}</td>
              <td>{ms(r.p50_ms)}</td><td>{ms(r.p99_ms)}</td><td>{ms(r.p99_9_ms)}</td><td>{pct(r.error_rate)}</td>
              <td>{Object.entries(r.labels || {}).map(([k, v]) => <span class="label">{k}={v}</span>)}</td>
            </tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No results match.</p>)}
      {next && !exhausted && <p><button type="button" id="more" onClick={loadMore}>More</button></p>}
      {more.error && <p class="error">{more.error.message}</p>}
    </div>
  );
}
