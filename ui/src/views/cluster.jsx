// One cluster: its nodes, discovery health, meshes, counts per kind and an inventory
// browser (filters and the object opened live in the address), kept live over the
// inventory's server-sent events.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, stream } from '../api.js';
import { useAPI } from '../hooks.js';
import { num, when } from '../format.js';
import { navigate } from '../router.js';

const pageSize = 50;
const filterNames = ['kind', 'namespace', 'selector'];

function withParams(query, changes) {
  const q = new URLSearchParams(query);
  for (const [k, v] of Object.entries(changes)) if (v) q.set(k, v); else q.delete(k);
  return `/clusters?${q}`;
}

function Discovery({ id, changes }) {
  const { data: d, error, reload } = useAPI(`/clusters/${encodeURIComponent(id)}/discovery`);
  useEffect(() => { if (changes) reload(); }, [changes]);
  return (
    <section class="card" id="discovery"><h2>Discovery</h2>
      {error ? <p class="muted">{error.message}</p> : d && (
        <table><tbody>
          <tr><td>state</td><td><span class={`status ${['running', 'watching', 'reporting'].includes(d.state) ? 'completed' : 'neutral'}`}>{d.state}</span> <span class="muted">{d.mode}</span></td></tr>
          <tr><td>objects</td><td>{num(d.objects, 0)}</td></tr>
          <tr><td>last event</td><td>{when(d.last_event_at)}{d.lag_seconds != null && <span class="muted"> · lag {num(d.lag_seconds, 2)} s</span>}</td></tr>
          <tr><td>last snapshot</td><td>{when(d.last_snapshot_at)}{d.snapshot_open && <span class="badge warn">open</span>}</td></tr>
          <tr><td>watches / resources</td><td>{d.watches_open ?? '–'} / {d.resources ?? '–'}</td></tr>
          <tr><td>gaps</td><td>{d.gaps ?? 0}</td></tr>
          {d.embedded && <tr><td>embedded MeshSync</td><td>{d.embedded.state}, since {when(d.embedded.started_at)}, {d.embedded.restarts} restarts</td></tr>}
          {(d.last_error || d.embedded?.last_error) && <tr><td>last error</td><td class="error">{d.last_error || d.embedded.last_error}</td></tr>}
        </tbody></table>
      )}
    </section>
  );
}

function Meshes({ id }) {
  const { data: m, error } = useAPI(`/clusters/${encodeURIComponent(id)}/meshes`);
  return (
    <section class="card" id="meshes"><h2>Meshes and monitoring</h2>
      {error ? <p class="muted">{error.message}</p> : m && (<>
        {m.error && <p class="error">{m.error}</p>}
        {m.meshes.length ? <table><thead><tr><th>Mesh</th><th>Mode</th><th>Version</th><th>Namespace</th><th>Proxies</th><th>Score</th></tr></thead>
          <tbody>{m.meshes.map((x) => (
            <tr title={(x.evidence || []).join('\n')}><td>{x.type}</td><td>{x.mode || '–'}</td><td>{x.version || '–'}</td><td>{x.namespace || '–'}</td>
              <td>{x.proxies.count} {Object.entries(x.proxies.versions || {}).map(([v, n]) => <span class="label">{v}×{n}</span>)}</td><td>{x.score}</td></tr>
          ))}</tbody></table> : <p class="muted">No service mesh found.</p>}
        {m.monitoring.length > 0 && <table><tbody>{m.monitoring.map((x) => (
          <tr><td>{x.kind}</td><td>{x.namespace}/{x.name}</td><td>{x.version || '–'}</td><td>{x.service ? `${x.service}:${x.port}` : '–'}</td></tr>
        ))}</tbody></table>}
        <p class="muted">Checked {when(m.checked_at)}</p>
      </>)}
    </section>
  );
}

function Counts({ counts, query }) {
  if (!counts) return null;
  const rows = [...counts].sort((a, b) => b.count - a.count);
  return (
    <section class="card" id="kind-counts"><h2>Objects per kind</h2>
      {rows.length ? <table><tbody>{rows.map((c) => (
        <tr><td><a href={withParams(query, { kind: c.kind, cursor: '', uid: '' })}>{c.kind}</a> <span class="muted">{c.group}</span></td><td class="num">{num(c.count, 0)}</td></tr>
      ))}</tbody></table> : <p class="muted">Nothing discovered yet.</p>}
    </section>
  );
}

function ObjectView({ id, uid, query }) {
  const { data: o, error } = useAPI(`/clusters/${encodeURIComponent(id)}/inventory/${encodeURIComponent(uid)}`);
  return (
    <section class="card" id="inventory-object">
      <h2>{o ? `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}` : 'Object'} <a class="muted" href={withParams(query, { uid: '' })}>close</a></h2>
      {error && <p class="error">{error.message}</p>}
      {o && <>
        <p class="muted">first seen {when(o.first_seen)} · last seen {when(o.last_seen)} · version {o.resource_version}
          {o.managed && <span class="badge">meshperf</span>}{o.truncated && <span class="badge warn">metadata only</span>}</p>
        <pre class="json">{JSON.stringify(o.object || { metadata: { labels: o.labels, annotations: o.annotations, ownerReferences: o.owners } }, null, 2)}</pre>
      </>}
    </section>
  );
}

export function ClusterDetail({ id, query }) {
  const detail = useAPI(`/clusters/${encodeURIComponent(id)}`);
  const filters = Object.fromEntries(filterNames.map((k) => [k, query.get(k) || '']));
  const uid = query.get('uid');
  const [cursors, setCursors] = useState(['']); // the pages seen, to go back
  const [page, setPage] = useState(null);
  const [counts, setCounts] = useState(null);
  const [error, setError] = useState('');
  const [changes, setChanges] = useState(0);
  const [draft, setDraft] = useState(filters);
  const filterKey = JSON.stringify(filters);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => { setCursors(['']); setDraft(filters); }, [filterKey]);
  useEffect(() => {
    const q = new URLSearchParams({ cluster: id, limit: String(pageSize) });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    let current = true;
    api(`/inventory?${q}`).then((p) => { if (current) { setPage(p); setError(''); } }, (e) => current && setError(e.message));
    api(`/inventory/counts?cluster=${encodeURIComponent(id)}`).then((c) => current && setCounts(c.items), () => {});
    return () => { current = false; };
  }, [id, filterKey, cursor, changes]);
  // Live: a change reloads the page shown, at most once a second.
  const pending = useRef(null);
  const [live, setLive] = useState(0);
  useEffect(() => stream(`/inventory/events?cluster=${encodeURIComponent(id)}`, (type) => {
    if (type !== 'change' && type !== 'lost') return;
    setLive((n) => n + 1);
    if (!pending.current) pending.current = setTimeout(() => { pending.current = null; setChanges((n) => n + 1); }, 1000);
  }, () => {}), [id]);
  useEffect(() => () => clearTimeout(pending.current), []);
  const apply = (e) => { e.preventDefault(); navigate(withParams(query, { ...draft, uid: '' })); };
  const d = detail.data;
  return (
    <div id="cluster-detail">
      <h2>{d?.name || id} <span class="muted">{live ? `${live} live change${live === 1 ? '' : 's'}` : 'live'}</span></h2>
      <div class="grid2">
        <Discovery id={id} changes={changes} />
        <Meshes id={id} />
      </div>
      {d && (
        <section class="card"><h2>Nodes</h2>
          <table><thead><tr><th>Node</th><th>Ready</th><th>Cores</th><th>Memory</th><th>Instance type</th><th>Kubelet</th></tr></thead>
            <tbody>{(d.nodes || []).map((n) => (
              <tr><td>{n.name}</td><td>{n.ready ? 'yes' : 'no'}</td><td>{n.cores}</td><td>{n.memory_mb ? `${n.memory_mb} MB` : '–'}</td><td>{n.instance_type || '–'}</td><td>{n.kubelet_version}</td></tr>
            ))}</tbody></table>
        </section>
      )}
      <div class="grid-inventory">
        <Counts counts={counts} query={query} />
        <section class="card" id="inventory"><h2>Inventory</h2>
          <form class="filters" onSubmit={apply} id="inventory-filters">
            {filterNames.map((k) => (
              <label>{k}<input name={k} value={draft[k]} placeholder={k === 'selector' ? 'app=web,tier!=db' : ''} onInput={(e) => setDraft({ ...draft, [k]: e.target.value })} /></label>
            ))}
            <button type="submit">Filter</button>
          </form>
          {error && <p class="error">{error}</p>}
          {page && (page.items.length ? (
            <table><thead><tr><th>Kind</th><th>Namespace</th><th>Name</th><th>Labels</th><th>Last seen</th></tr></thead>
              <tbody>{page.items.map((o) => (
                <tr class={o.uid === uid ? 'selected' : ''}><td>{o.kind}</td><td>{o.namespace || '–'}</td>
                  <td><a href={withParams(query, { uid: o.uid })} class="inventory-object">{o.name}</a>{o.managed && <span class="badge">meshperf</span>}</td>
                  <td>{Object.entries(o.labels || {}).slice(0, 4).map(([k, v]) => <span class="label">{k}={v}</span>)}</td><td>{when(o.last_seen)}</td></tr>
              ))}</tbody></table>
          ) : <p class="muted">No objects match.</p>)}
          <div class="actions">
            <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous</button>
            <span class="muted">page {cursors.length}</span>
            <button type="button" id="inventory-next" disabled={!page?.next_cursor} onClick={() => setCursors([...cursors, page.next_cursor])}>Next</button>
          </div>
        </section>
      </div>
      {uid && <ObjectView id={id} uid={uid} query={query} />}
    </div>
  );
}
