import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { api, token, whenUnauthorized } from './api.js';
import { match, navigate, useLocation } from './router.js';
import { Overview } from './views/overview.jsx';
import { Profiles, ProfileEditor } from './views/profiles.jsx';
import { Run } from './views/run.jsx';
import { Results } from './views/results.jsx';
import { Result } from './views/result.jsx';
import { Compare } from './views/compare.jsx';
import { Schedules } from './views/schedules.jsx';
import { Clusters } from './views/clusters.jsx';

const routes = [
  ['/', Overview], ['/profiles', Profiles], ['/profiles/:id', ProfileEditor], ['/runs/:id', Run],
  ['/results', Results], ['/results/:id', Result], ['/compare', Compare], ['/schedules', Schedules], ['/clusters', Clusters],
];

// The theme: the system's unless chosen; kept in localStorage (it is no secret).
function useTheme() {
  const [theme, setTheme] = useState(localStorage.getItem('meshperf.theme') || 'auto');
  const system = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  const applied = theme === 'auto' ? system : theme;
  // Set while rendering, not in an effect: the charts (children, whose effects run
  // first) read the theme's colours when they draw.
  document.documentElement.dataset.theme = applied;
  useEffect(() => { localStorage.setItem('meshperf.theme', theme); }, [theme]);
  return [applied, () => setTheme(applied === 'dark' ? 'light' : 'dark')];
}

function Login({ onLogin }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    token.set(value.trim());
    try {
      onLogin(await api('/whoami'));
    } catch (err) {
      token.clear();
      setError(err.status === 401 ? 'That token is not valid.' : err.message);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} id="login">
        <h1>meshperf</h1>
        <label>API token
          <input type="password" name="token" autocomplete="off" value={value} onInput={(e) => setValue(e.target.value)} autofocus />
        </label>
        <p class="muted">Kept for this browser tab only.</p>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary">Log in</button>
      </form>
    </main>
  );
}

function App() {
  const loc = useLocation();
  const [user, setUser] = useState(null);
  const [checked, setChecked] = useState(false);
  const [theme, toggleTheme] = useTheme();
  const [wantLogin, setWantLogin] = useState(false);
  useEffect(() => {
    whenUnauthorized(() => { token.clear(); setUser(null); });
    // Without a token, a server with anonymous read still answers (as a viewer).
    api('/whoami').then(setUser, () => token.clear()).finally(() => setChecked(true));
  }, []);
  if (!checked) return null;
  if (!user || wantLogin) return <Login onLogin={(u) => { setUser(u); setWantLogin(false); }} />;
  const anonymous = !token.get();
  const [path, query] = loc.split('?');
  let view = <p class="error">No such page: {path}</p>;
  for (const [pattern, View] of routes) {
    const params = match(pattern, path);
    if (params) { view = <View {...params} query={new URLSearchParams(query || '')} theme={theme} user={user} />; break; }
  }
  const nav = [['/', 'Overview'], ['/profiles', 'Profiles'], ['/results', 'Results'], ['/schedules', 'Schedules'], ['/clusters', 'Clusters']];
  return (
    <>
      <header class="top">
        <a href="/" class="brand">meshperf</a>
        <nav>{nav.map(([href, label]) => (
          <a href={href} class={(href === '/' ? path === '/' : path.startsWith(href)) ? 'active' : ''}>{label}</a>
        ))}</nav>
        <span class="spacer" />
        <button type="button" class="ghost" onClick={toggleTheme} title="Light or dark" id="theme">{theme === 'dark' ? '☀' : '☾'}</button>
        <span class="muted">{user.name} · {user.role}</span>
        {anonymous
          ? <button type="button" class="ghost" onClick={() => setWantLogin(true)}>Log in</button>
          : <button type="button" class="ghost" onClick={() => { token.clear(); setUser(null); navigate('/'); }}>Log out</button>}
      </header>
      <main class="page">{view}</main>
    </>
  );
}

render(<App />, document.getElementById('app'));
