export const ms = (v) => (v == null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`);
export const num = (v, d = 1) => (v == null ? '–' : Number(v).toLocaleString('en', { maximumFractionDigits: d }));
export const pct = (v) => (v == null ? '–' : `${(v * 100).toFixed(2)}%`);
export const when = (t) => (t ? new Date(t).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' }) : '–');
export const short = (id) => (id ? id.slice(0, 8) : '');
export const unitFmt = (v, unit) => (unit === 'ms' ? ms(v) : unit === 'ratio' ? pct(v) : num(v, 2));
