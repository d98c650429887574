import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useAPI } from '../hooks.js';
import { when } from '../format.js';

export function Clusters({ user }) {
  const { data, error, reload } = useAPI('/clusters');
  const [message, setMessage] = useState('');
  const [open, setOpen] = useState(null);
  const detail = useAPI(open ? `/clusters/${encodeURIComponent(open)}` : null);
  const check = (c) => api(`/clusters/${encodeURIComponent(c.id)}/check`, { method: 'POST' }).then(() => { reload(); if (open === c.id) detail.reload(); },
    (e) => setMessage(e.message));
  return (
    <div id="clusters">
      <h1>Clusters</h1>
      {(error || message) && <p class="error">{error?.message || message}</p>}
      {data && (data.items.length ? (
        <table>
          <thead><tr><th>Name</th><th>State</th><th>Server</th><th>Version</th><th>Nodes</th><th>Checked</th><th>Last error</th><th /></tr></thead>
          <tbody>{data.items.map((c) => (
            <tr><td><a href="#" onClick={(e) => { e.preventDefault(); setOpen(open === c.id ? null : c.id); }}>{c.name}</a></td>
              <td><span class={`status ${c.state}`}>{c.state}</span></td><td><code>{c.server}</code></td><td>{c.version || '–'}</td>
              <td>{c.node_count}</td><td>{when(c.last_check)}</td><td class="error">{c.last_error}</td>
              <td>{user.role !== 'viewer' && <button type="button" onClick={() => check(c)}>Check now</button>}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No clusters. Add them with <code>meshperf cluster add --kubeconfig FILE</code>.</p>)}
      {detail.data && (
        <section class="card"><h2>{detail.data.name}: nodes</h2>
          <table><thead><tr><th>Node</th><th>Ready</th><th>Cores</th><th>Memory</th><th>Instance type</th><th>Kubelet</th></tr></thead>
            <tbody>{(detail.data.nodes || []).map((n) => (
              <tr><td>{n.name}</td><td>{n.ready ? 'yes' : 'no'}</td><td>{n.cores}</td><td>{n.memory_mb ? `${n.memory_mb} MB` : '–'}</td><td>{n.instance_type || '–'}</td><td>{n.kubelet_version}</td></tr>
            ))}</tbody></table>
        </section>
      )}
    </div>
  );
}
