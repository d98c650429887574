import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useAPI } from '../hooks.js';
import { navigate } from '../router.js';
import { when } from '../format.js';

// Schedules lists, creates, pauses and resumes schedules; ?open=ID shows one's history.
export function Schedules({ user, query }) {
  const { data, error, reload } = useAPI('/schedules');
  const profiles = useAPI('/profiles');
  const profileName = (id) => (profiles.data?.items || []).find((p) => p.id === id)?.name || id;
  const openID = query.get('open');
  const detail = useAPI(openID ? `/schedules/${encodeURIComponent(openID)}` : null);
  const [message, setMessage] = useState('');
  const [fields, setFields] = useState([]);
  const act = (s, what) => api(`/schedules/${encodeURIComponent(s.id)}/${what}`, { method: 'POST' }).then(reload, (e) => setMessage(e.message));
  const create = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    setMessage(''); setFields([]);
    api('/schedules', { method: 'POST', body: { name: f.get('name'), profile: f.get('profile'), cron: f.get('cron'), missed: f.get('missed') } })
      .then(() => { e.target.reset(); reload(); }, (err) => { setMessage(err.message); setFields(err.fields || []); });
  };
  return (
    <div id="schedules">
      <h1>Schedules</h1>
      {(error || message) && <p class="error">{error?.message || message}</p>}
      {fields.length > 0 && <ul class="problems">{fields.map((f) => <li><code>{f.field}</code>: {f.message}</li>)}</ul>}
      {data && (data.items.length ? (
        <table>
          <thead><tr><th>Name</th><th>Profile</th><th>Cron</th><th>Next</th><th>Last fired</th><th>State</th><th /></tr></thead>
          <tbody>{data.items.map((s) => (
            <tr><td><a href={`/schedules?open=${encodeURIComponent(s.id)}`}>{s.name}</a></td><td><a href={`/profiles/${encodeURIComponent(profileName(s.profile_id))}`}>{profileName(s.profile_id)}</a></td><td><code>{s.cron}</code></td>
              <td>{s.next?.length ? when(s.next[0]) : '–'}</td><td>{when(s.last_fire)}</td>
              <td><span class={`status ${s.paused ? 'failed' : 'completed'}`}>{s.paused ? 'paused' : 'active'}</span></td>
              <td>{user.role !== 'viewer' && <button type="button" onClick={() => act(s, s.paused ? 'resume' : 'pause')}>{s.paused ? 'Resume' : 'Pause'}</button>}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No schedules yet.</p>)}
      {detail.data && (
        <section class="card" id="schedule-history"><h2>{detail.data.name}: history <a class="muted" href="/schedules" onClick={(e) => { e.preventDefault(); navigate('/schedules'); }}>close</a></h2>
          {detail.data.history?.length ? (
            <table><thead><tr><th>Fired</th><th>Outcome</th><th>Run</th><th>Server</th></tr></thead>
              <tbody>{detail.data.history.map((f) => (
                <tr><td>{when(f.fire_time)}</td><td>{f.outcome}</td><td>{f.run_id ? <a href={`/runs/${f.run_id}`}>{f.run_id.slice(0, 8)}</a> : '–'}</td><td>{f.server}</td></tr>
              ))}</tbody></table>
          ) : <p class="muted">Not fired yet.</p>}
          {detail.data.next?.length > 0 && <p class="muted">Next: {detail.data.next.map(when).join(' · ')}</p>}
        </section>
      )}
      {user.role !== 'viewer' && (
        <form class="filters card" onSubmit={create} id="new-schedule">
          <label>Name <input name="name" required /></label>
          <label>Profile <select name="profile" required>{(profiles.data?.items || []).map((p) => <option value={p.name}>{p.name}</option>)}</select></label>
          <label>Cron <input name="cron" placeholder="0 2 * * *  or  @every 30m" required /></label>
          <label>After downtime <select name="missed"><option value="skip">skip</option><option value="run_once">run once</option></select></label>
          <button type="submit" class="primary">Create schedule</button>
        </form>
      )}
    </div>
  );
}
