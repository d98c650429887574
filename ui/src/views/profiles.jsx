import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { parseDocument, stringify } from 'yaml';
import { api } from '../api.js';
import { useAPI } from '../hooks.js';
import { navigate } from '../router.js';
import { when } from '../format.js';
import { lineDiff } from '../diff.js';
import { Chart, palette } from '../chart.jsx';

const newProfile = `name: my-profile
description: ""
config:
  duration: 30s
  clients:
    - protocol: HTTP
      endpoint_urls: ["http://127.0.0.1:8080/"]
      rps: 100
      connections: 4
`;

export function Profiles({ user }) {
  const { data, error } = useAPI('/profiles');
  return (
    <div id="profiles">
      <h1>Profiles {user.role !== 'viewer' && <a class="button" href="/profiles/new">New profile</a>}</h1>
      {error && <p class="error">{error.message}</p>}
      {data && (data.items.length ? (
        <table>
          <thead><tr><th>Name</th><th>Description</th><th>Version</th><th>Updated</th><th>By</th></tr></thead>
          <tbody>{data.items.map((p) => (
            <tr><td><a href={`/profiles/${encodeURIComponent(p.name)}`}>{p.name}</a></td><td>{p.description}</td><td>{p.version}</td><td>{when(p.updated_at)}</td><td>{p.created_by}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No profiles yet.</p>)}
    </div>
  );
}

// lineOf finds the line (1-based) of a field path such as config.clients[0].rps in
// YAML text: the deepest part of the path that the text holds.
export function lineOf(text, path) {
  let doc;
  try { doc = parseDocument(text, { keepSourceTokens: true }); } catch { return 0; }
  const parts = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  const lineAt = (offset) => text.slice(0, offset).split('\n').length;
  for (let n = parts.length; n > 0; n--) {
    const node = doc.getIn(parts.slice(0, n), true);
    if (node && node.range) {
      // a scalar's own line; for a map or list, the line of its key
      const parent = doc.getIn(parts.slice(0, n - 1), true);
      const pair = parent?.items?.find?.((it) => it.key && (it.key.value ?? it.key) === parts[n - 1]);
      return lineAt(pair?.key?.range ? pair.key.range[0] : node.range[0]);
    }
  }
  return 0;
}

function Editor({ text, setText, marks }) {
  const gutter = useRef(null);
  const lines = text.split('\n').length;
  return (
    <div class="editor">
      <pre class="gutter" ref={gutter} aria-hidden="true">{Array.from({ length: lines }, (_, i) => (
        <><span class={marks.has(i + 1) ? 'mark' : ''} title={marks.get(i + 1) || ''}>{i + 1}</span>{'\n'}</>
      ))}</pre>
      <textarea id="yaml" spellcheck={false} value={text} onInput={(e) => setText(e.target.value)}
        onScroll={(e) => { gutter.current.scrollTop = e.target.scrollTop; }} />
    </div>
  );
}

export function ProfileEditor({ id, user, query, theme }) {
  const isNew = id === 'new';
  const { data, error } = useAPI(isNew ? null : `/profiles/${encodeURIComponent(id)}`);
  const versions = useAPI(isNew ? null : `/profiles/${encodeURIComponent(id)}/versions`);
  const [text, setText] = useState(isNew ? newProfile : '');
  const [problems, setProblems] = useState([]);
  const [message, setMessage] = useState('');
  const [overrides, setOverrides] = useState({ duration: '', rps: '' });
  useEffect(() => {
    if (data) setText(stringify({ name: data.name, description: data.description || '', config: data.config }, { lineWidth: 0 }));
  }, [data]);
  const marks = useMemo(() => new Map(problems.filter((p) => p.line).map((p) => [p.line, p.message])), [problems]);
  const canEdit = user.role !== 'viewer';

  const fail = (err) => {
    setMessage(err.message);
    setProblems((err.fields || []).map((f) => ({ ...f, line: f.line || lineOf(text, f.field) })));
  };
  const save = async () => {
    setMessage(''); setProblems([]);
    try {
      const p = await api(isNew ? '/profiles' : `/profiles/${encodeURIComponent(id)}`, { method: isNew ? 'POST' : 'PUT', body: text, raw: true, contentType: 'application/yaml' });
      setMessage(`Saved version ${p.version}.`);
      if (isNew) navigate(`/profiles/${encodeURIComponent(p.name)}`, true);
      else versions.reload();
    } catch (err) { fail(err); }
  };
  const runNow = async () => {
    setMessage(''); setProblems([]);
    const o = {};
    if (overrides.duration) o.duration = overrides.duration;
    if (overrides.rps) o.rps = Number(overrides.rps);
    try {
      const run = await api(`/profiles/${encodeURIComponent(id)}/runs`, { method: 'POST', body: Object.keys(o).length ? { overrides: o } : {} });
      navigate(`/runs/${run.id}`);
    } catch (err) { fail(err); }
  };
  if (error) return <p class="error">{error.message}</p>;
  return (
    <div id="profile">
      <h1>{isNew ? 'New profile' : id} {data && <span class="muted">version {data.version}</span>}</h1>
      <Editor text={text} setText={setText} marks={marks} />
      {message && <p class={problems.length ? 'error' : 'ok'} role="status" id="message">{message}</p>}
      {problems.length > 0 && (
        <ul class="problems" id="problems">{problems.map((p) => (
          <li><strong>{p.line ? `line ${p.line}` : 'somewhere'}</strong> · <code>{p.field}</code>: {p.message}</li>
        ))}</ul>
      )}
      {canEdit && (
        <div class="actions">
          <button type="button" class="primary" id="save" onClick={save}>{isNew ? 'Create' : 'Save new version'}</button>
          {!isNew && (
            <span class="run">
              <input placeholder="duration (e.g. 10s)" value={overrides.duration} onInput={(e) => setOverrides({ ...overrides, duration: e.target.value })} />
              <input placeholder="rps" inputMode="numeric" value={overrides.rps} onInput={(e) => setOverrides({ ...overrides, rps: e.target.value })} />
              <button type="button" id="run-now" onClick={runNow}>Run now</button>
            </span>
          )}
        </div>
      )}
      {!isNew && data && <Trend id={id} profileID={data.id} query={query} theme={theme} />}
      {versions.data?.items?.length > 0 && (
        <section class="card"><h2>Versions</h2>
          <table><thead><tr><th>Version</th><th>Saved</th><th>By</th><th /></tr></thead>
            <tbody>{versions.data.items.map((v) => (
              <tr><td>{v.version}</td><td>{when(v.created_at)}</td><td>{v.created_by}</td>
                <td>{v.version > 1 && <a href={`/profiles/${encodeURIComponent(id)}?diff=${v.version}`}>changes from {v.version - 1}</a>}</td></tr>
            ))}</tbody></table>
          <VersionDiff items={versions.data.items} version={Number(query.get('diff'))} />
        </section>
      )}
    </div>
  );
}

// VersionDiff shows what a version changed from the one before (?diff=N).
function VersionDiff({ items, version }) {
  const to = items.find((v) => v.version === version);
  const from = items.find((v) => v.version === version - 1);
  if (!to || !from) return null;
  const lines = lineDiff(stringify(from.config, { lineWidth: 0 }), stringify(to.config, { lineWidth: 0 }));
  return (
    <div id="version-diff">
      <h2>Version {version - 1} → {version}</h2>
      <pre class="diff">{lines.map(([op, line]) => <span class={op === '+' ? 'add' : op === '-' ? 'del' : ''}>{op} {line}{'\n'}</span>)}</pre>
    </div>
  );
}

const trendMetrics = ['p50', 'p90', 'p99', 'p99.9', 'rps', 'error_rate'];

// Trend follows one metric over the profile's results (?metric=), its schedules'
// firings marked as vertical lines.
function Trend({ id, profileID, query, theme }) {
  const metric = trendMetrics.includes(query.get('metric')) ? query.get('metric') : 'p99';
  const { data } = useAPI(`/profiles/${encodeURIComponent(id)}/trend?metric=${encodeURIComponent(metric)}`);
  const schedules = useAPI('/schedules');
  const [firings, setFirings] = useState([]);
  useEffect(() => { // each of this profile's schedules, with its history
    const mine = (schedules.data?.items || []).filter((s) => s.profile_id === profileID);
    Promise.all(mine.map((s) => api(`/schedules/${encodeURIComponent(s.id)}`)))
      .then((list) => setFirings(list.flatMap((s) => (s.history || []).map((f) => Date.parse(f.fire_time) / 1000))), () => {});
  }, [schedules.data, profileID]);
  const points = data?.points || [];
  const setMetric = (m) => { const q = new URLSearchParams(query); q.set('metric', m); navigate(`/profiles/${encodeURIComponent(id)}?${q}`, true); };
  const markFirings = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = palette[3];
    ctx.setLineDash([2, 3]);
    for (const t of firings) {
      const x = u.valToPos(t, 'x', true);
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.beginPath(); ctx.moveTo(x, bbox.top); ctx.lineTo(x, bbox.top + bbox.height); ctx.stroke();
    }
    ctx.restore();
  };
  return (
    <section class="card" id="trend">
      <h2>Trend <select value={metric} onChange={(e) => setMetric(e.target.value)}>{trendMetrics.map((m) => <option>{m}</option>)}</select>
        <span class="muted">{points.length} results{firings.length ? ' · dotted: schedule firings' : ''}</span></h2>
      {points.length > 0 && (
        <Chart key={firings.join()} name="trend" title="" theme={theme} scales={{ x: { time: true } }} hooks={{ draw: [markFirings] }}
          data={[points.map((p) => Date.parse(p.time) / 1000), points.map((p) => p.value)]}
          series={[{ label: metric, stroke: palette[0], width: 2 }]} height={200} />
      )}
    </section>
  );
}
