// The console's few behaviours: charts (uPlot) from the page's JSON, the events page's live
// tail, and a confirmation before an action that sends something.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const data = document.getElementById('charts');
  if (data && window.uPlot) {
    const charts = JSON.parse(data.textContent);
    const colours = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#be185d'];
    const draw = (chart, el) => {
      // Sparse series (gaps where nothing happened) show their points: a lone value has no line.
      const sparse = chart.data.slice(1).some((ys) => ys.filter((y) => y !== null).length < ys.length);
      const width = Math.max(280, Math.min(el.parentElement.clientWidth - 8, 560));
      new window.uPlot({
        title: chart.title + (chart.unit ? ' (' + chart.unit + ')' : ''), width, height: 200,
        series: [{}, ...chart.labels.map((label, i) => ({ label, stroke: colours[i % colours.length], width: 1.5, spanGaps: false, points: { show: sparse, size: 5, fill: colours[i % colours.length] } }))],
        axes: [{}, { size: 50 }],
      }, chart.data, el);
    };
    const slots = document.querySelectorAll('[data-chart]');
    if (slots.length > 0) slots.forEach((el) => { const c = charts[Number(el.dataset.chart)]; if (c) draw(c, el); });
    else document.querySelectorAll('[data-charts]').forEach((box) => charts.forEach((c) => { const el = document.createElement('div'); el.className = 'chart'; box.appendChild(el); draw(c, el); }));
  }

  const rows = document.querySelector('tbody[data-tail]');
  if (rows) {
    let next = rows.dataset.tail;
    const poll = async () => {
      try {
        const res = await fetch(next, { headers: { 'hx-request': 'true' }, credentials: 'same-origin' });
        if (res.status === 401) { location.href = '/login'; return; }
        if (res.ok) {
          const tmp = document.createElement('tbody');
          tmp.innerHTML = await res.text();
          const marker = tmp.querySelector('#tail-next');
          if (marker) { next = marker.dataset.next; marker.remove(); }
          const fresh = [...tmp.children];
          fresh.forEach((r) => r.classList.add('new'));
          rows.prepend(...fresh);
          const empty = document.querySelector('p.empty');
          if (fresh.length > 0 && empty) empty.remove();
        }
      } catch { /* the next poll tries again */ }
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }

  document.addEventListener('submit', (ev) => {
    const button = ev.submitter;
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) ev.preventDefault();
  });
});
