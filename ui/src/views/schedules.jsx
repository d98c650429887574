import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useAPI } from '../hooks.js';
import { when } from '../format.js';

export function Schedules({ user }) {
  const { data, error, reload } = useAPI('/schedules');
  const [message, setMessage] = useState('');
  const act = (s, what) => api(`/schedules/${encodeURIComponent(s.id)}/${what}`, { method: 'POST' }).then(reload, (e) => setMessage(e.message));
  return (
    <div id="schedules">
      <h1>Schedules</h1>
      {(error || message) && <p class="error">{error?.message || message}</p>}
      {data && (data.items.length ? (
        <table>
          <thead><tr><th>Name</th><th>Profile</th><th>Cron</th><th>Next</th><th>Last fired</th><th>State</th><th /></tr></thead>
          <tbody>{data.items.map((s) => (
            <tr><td>{s.name}</td><td><a href={`/profiles/${s.profile_id}`}>{s.profile_id}</a></td><td><code>{s.cron}</code></td>
              <td>{s.next?.length ? when(s.next[0]) : '–'}</td><td>{when(s.last_fire)}</td>
              <td><span class={`status ${s.paused ? 'failed' : 'completed'}`}>{s.paused ? 'paused' : 'active'}</span></td>
              <td>{user.role !== 'viewer' && <button type="button" onClick={() => act(s, s.paused ? 'resume' : 'pause')}>{s.paused ? 'Resume' : 'Pause'}</button>}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No schedules. Create one with <code>meshperf schedule create</code>.</p>)}
    </div>
  );
}
