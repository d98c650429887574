// The API client: same origin, the token from this tab's session only.
const tokenKey = 'meshperf.token';

export const token = {
  get: () => sessionStorage.getItem(tokenKey) || '',
  set: (t) => sessionStorage.setItem(tokenKey, t),
  clear: () => sessionStorage.removeItem(tokenKey),
};

export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.fields = e.fields || [];
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(f) { onUnauthorized = f; }

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = token.get();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

// api calls the API and returns its JSON; an error answer throws an APIError.
export async function api(path, { method = 'GET', body, raw, contentType } = {}) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.body = raw ? body : JSON.stringify(body);
    init.headers['Content-Type'] = contentType || 'application/json';
  }
  const res = await fetch(`/api/v1${path}`, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new APIError(res.status, data);
  }
  return data;
}

// download fetches a result in a format and saves it as a file (links cannot carry
// the token).
export async function download(id, format, filename) {
  const res = await fetch(`/api/v1/results/${encodeURIComponent(id)}?format=${format}`, { headers: headers({ Accept: '*/*' }) });
  if (!res.ok) throw new APIError(res.status, await res.json().catch(() => null));
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// events follows a run's server-sent events; it returns a function that stops.
export function events(runID, onEvent, onError) {
  return stream(`/runs/${encodeURIComponent(runID)}/events`, onEvent, onError);
}

// stream follows an API path's server-sent events with fetch (EventSource cannot send
// the token). onEvent(type, data) gets each; it returns a function that stops.
export function stream(path, onEvent, onError) {
  const ctl = new AbortController();
  (async () => {
    const res = await fetch(`/api/v1${path}`, {
      headers: headers({ Accept: 'text/event-stream' }), signal: ctl.signal,
    });
    if (!res.ok) throw new APIError(res.status, await res.json().catch(() => null));
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let type = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length) onEvent(type, JSON.parse(data.join('\n')));
      }
    }
  })().catch((e) => { if (e.name !== 'AbortError') onError(e); });
  return () => ctl.abort();
}
