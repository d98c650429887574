import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { useAPI } from '../hooks.js';
import { when } from '../format.js';
import { navigate } from '../router.js';
import { ClusterDetail } from './cluster.jsx';

// Clusters lists the connections; the one opened (?open=ID, with its inventory filters
// in the address too) shows its discovery, meshes and inventory.
export function Clusters({ user, query, theme }) {
  const { data, error, reload } = useAPI('/clusters');
  const [message, setMessage] = useState('');
  const open = query.get('open');
  const [round, setRound] = useState(0);
  useEffect(() => setMessage(''), [open]);
  const check = (c) => api(`/clusters/${encodeURIComponent(c.id)}/check`, { method: 'POST' }).then(() => { reload(); setRound((n) => n + 1); },
    (e) => setMessage(e.message));
  const toggle = (id) => navigate(open === id ? '/clusters' : `/clusters?open=${encodeURIComponent(id)}`);
  return (
    <div id="clusters">
      <h1>Clusters</h1>
      {(error || message) && <p class="error">{error?.message || message}</p>}
      {data && (data.items.length ? (
        <table>
          <thead><tr><th>Name</th><th>State</th><th>Server</th><th>Version</th><th>Nodes</th><th>Checked</th><th>Last error</th><th /></tr></thead>
          <tbody>{data.items.map((c) => (
            <tr class={open === c.id ? 'selected' : ''}><td><a href={`/clusters?open=${encodeURIComponent(c.id)}`} class="open-cluster"
              onClick={(e) => { e.preventDefault(); e.stopPropagation(); toggle(c.id); }}>{c.name}</a></td>
              <td><span class={`status ${c.state}`}>{c.state}</span></td><td><code>{c.server}</code></td><td>{c.version || '–'}</td>
              <td>{c.node_count}</td><td>{when(c.last_check)}</td><td class="error">{c.last_error}</td>
              <td>{user.role !== 'viewer' && <button type="button" onClick={() => check(c)}>Check now</button>}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No clusters. Add them with <code>meshperf cluster add --kubeconfig FILE</code>.</p>)}
      {open && <ClusterDetail key={`${open}/${round}`} id={open} query={query} theme={theme} />}
    </div>
  );
}
