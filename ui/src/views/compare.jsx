import uPlot from 'uplot';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart, secondAxis, palette, percentileX } from '../chart.jsx';
import { useAPI } from '../hooks.js';
import { ms, num, short, unitFmt } from '../format.js';
import { logScales, percentileAxes } from './result.jsx';
import { resourceFigures, resourceFmt, resourceRoles } from './metrics.jsx';

// ResourcesSideBySide: each resource figure (mean, max) of every result; the change
// against the baseline's mean.
function ResourcesSideBySide({ rows, full }) {
  const figs = full.map((r) => resourceFigures(r.metrics));
  const roles = resourceRoles.filter(([role]) => figs.some((f) => f[role]));
  if (!roles.length) return null;
  return (
    <section class="card" id="compare-resources"><h2>Resources side by side <span class="muted">(mean, max over each measured window)</span></h2>
      <table>
        <thead><tr><th>Role</th>{rows.map((r, i) => <th><span class="swatch" style={{ background: palette[i % palette.length] }} />{nameOf(r, i)}</th>)}</tr></thead>
        <tbody>{roles.map(([role, label]) => (
          <tr data-role={role}><td>{label}</td>{figs.map((f, i) => {
            const x = f[role];
            if (!x || x.status !== 'ok') return <td class="muted">{x ? `missing: ${x.reason}` : 'not measured'}</td>;
            const base = figs[0][role];
            const delta = i > 0 && base?.status === 'ok' && base.mean > 0 ? (100 * (x.mean - base.mean)) / base.mean : null;
            return (
              <td class="num">{resourceFmt(x.mean, x.unit)} <span class="muted">max {resourceFmt(x.max, x.unit)}</span>
                {delta != null && <span class={`delta ${delta <= 0 ? 'good' : 'bad'}`}> {delta > 0 ? '+' : ''}{delta.toFixed(1)}%</span>}</td>
            );
          })}</tr>
        ))}</tbody>
      </table>
    </section>
  );
}

const nameOf = (r, i) => `${i === 0 ? 'base ' : ''}${r.name || short(r.id)}`;

// overlay aligns each result's [x, y] on one x axis; the baseline is solid, the
// others dashed.
function overlay(rows, pairs, extra = {}) {
  const data = uPlot.join(pairs);
  const series = rows.map((r, i) => ({ label: nameOf(r, i), stroke: palette[i % palette.length], width: 2, spanGaps: true, dash: i === 0 ? undefined : [8, 4], ...extra }));
  return { data, series };
}

const verdictClass = (v) => (/better|improv/i.test(v) ? 'completed' : /worse|regress/i.test(v) ? 'failed' : 'neutral');

export function Compare({ query, theme }) {
  const ids = (query.get('ids') || '').split(',').filter(Boolean);
  const { data: cmp, error } = useAPI(ids.length ? `/results/compare?ids=${ids.map(encodeURIComponent).join(',')}` : null);
  const [charts, setCharts] = useState(null);
  const [full, setFull] = useState(null); // the results themselves, for their resources
  useEffect(() => {
    setCharts(null); setFull(null);
    if (ids.length < 2) return;
    Promise.all(ids.map((id) => api(`/results/${encodeURIComponent(id)}/charts`))).then(setCharts, () => {});
    Promise.all(ids.map((id) => api(`/results/${encodeURIComponent(id)}?intervals=false`))).then(setFull, () => {});
  }, [query.get('ids')]);
  if (ids.length < 2) return <p class="muted">Pick two to ten results on the <a href="/results">results</a> page to compare them.</p>;
  if (error) return <p class="error">{error.message}</p>;
  if (!cmp) return <p class="muted">Loading…</p>;
  const rows = cmp.results;
  let curves, p99s, rates;
  if (charts) {
    curves = overlay(rows, charts.map((c) => [c.percentiles.map((p) => percentileX(p.percentile)), c.percentiles.map((p) => Math.max(p.ms, 0.001))]));
    p99s = overlay(rows, charts.map((c) => [c.series.second, c.series.p99_ms]));
    rates = overlay(rows, charts.map((c) => [c.series.second, c.series.rps]));
  }
  return (
    <div id="compare-view">
      <h1>Compare {rows.length} results</h1>
      <p class="muted">Share this page's address to share the comparison. The first is the baseline (solid line).</p>
      {curves && (
        <>
          <Chart name="compare-percentiles" title="Percentile curves (ms)" theme={theme} scales={logScales} axes={percentileAxes} data={curves.data} series={curves.series} height={320} />
          <div class="grid2">
            <Chart name="compare-p99" title="p99 per second (ms)" theme={theme} data={p99s.data} series={p99s.series} axes={[secondAxis, {}]} />
            <Chart name="compare-rate" title="Rate per second" theme={theme} data={rates.data} series={rates.series} axes={[secondAxis, {}]} />
          </div>
        </>
      )}
      <section class="card"><h2>Side by side</h2>
        <table id="compare-table">
          <thead><tr><th>Metric</th>{rows.map((r, i) => (
            <th><a href={`/results/${r.id}`}><span class="swatch" style={{ background: palette[i % palette.length] }} />{nameOf(r, i)}</a>
              {i > 0 && <a class="muted baseline" href={`/compare?ids=${[ids[i], ...ids.filter((_, j) => j !== i)].join(',')}`}> make baseline</a>}</th>
          ))}</tr></thead>
          <tbody>{cmp.metrics.map((m) => (
            <tr><td>{m.metric} <span class="muted">({m.better} is better)</span></td>{m.values.map((v, i) => (
              <td class="num">{unitFmt(v, m.unit)}{i > 0 && m.delta_pct[i] != null && (
                <span class={`delta ${(m.delta_pct[i] < 0) === (m.better === 'lower') ? 'good' : 'bad'}`}> {m.delta_pct[i] > 0 ? '+' : ''}{m.delta_pct[i].toFixed(1)}%</span>
              )}</td>
            ))}</tr>
          ))}
          <tr><td>generator <span class="muted">(kept its schedule?)</span></td>{rows.map((r) => (
            <td class="num"><span class={`status ${r.generator_saturated ? 'failed' : 'completed'}`}>{r.generator_saturated ? 'saturated' : 'kept up'}</span></td>
          ))}</tr>
          </tbody>
        </table>
      </section>
      {full && <ResourcesSideBySide rows={rows} full={full} />}
      {cmp.changes.map((cc) => {
        const i = rows.findIndex((r) => r.id === cc.candidate);
        return (
          <section class="card changes"><h2>{nameOf(rows[i] || { id: cc.candidate }, i)} against the baseline, per second</h2>
            <table>
              <thead><tr><th>Metric</th><th>Baseline (95% CI)</th><th>Candidate (95% CI)</th><th>Ratio (95% CI)</th><th>p</th><th>Verdict</th></tr></thead>
              <tbody>{cc.changes.map((c) => (
                <tr><td>{c.metric}</td>
                  <td>{unitFmt(c.baseline.center, c.unit)} <span class="muted">[{unitFmt(c.baseline.lo, c.unit)}, {unitFmt(c.baseline.hi, c.unit)}]</span></td>
                  <td>{unitFmt(c.candidate.center, c.unit)} <span class="muted">[{unitFmt(c.candidate.lo, c.unit)}, {unitFmt(c.candidate.hi, c.unit)}]</span></td>
                  <td>{c.has_ratio ? <>×{num(c.ratio, 3)} <span class="muted">[{num(c.ratio_lo, 3)}, {num(c.ratio_hi, 3)}]</span></> : '–'}</td>
                  <td>{num(c.p, 3)}</td>
                  <td><span class={`status ${verdictClass(c.verdict)}`}>{c.verdict}</span></td></tr>
              ))}</tbody>
            </table>
          </section>
        );
      })}
    </div>
  );
}
