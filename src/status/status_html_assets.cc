// The dashboard's style sheet and script, inline in every page (no external
// resource: the page works on a machine without Internet access, and the
// Content-Security-Policy the glue sends allows nothing else).
#include "status/status_html_assets.h"

namespace sticky {

// Light and dark; a table per upstream that scrolls sideways on medium
// screens and becomes one two-column card per worker under 600px.
const char kStatusCss[] = R"CSS(
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--mut:#59636e;--line:#d1d9e0;--head:#f6f8fa;
--ok:#1a7f37;--warn:#9a6700;--bad:#d1242f;--acc:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mut:#9198a1;--line:#3d444d;
--head:#151b23;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--acc:#4493f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;align-items:baseline;
gap:4px 14px;padding:8px 14px;background:var(--head);border-bottom:1px solid var(--line)}
h1{font-size:17px;margin:0}
h2{font-size:15px;font-weight:normal;margin:18px 0 2px}
h2 small,.meta,.sum,footer{color:var(--mut)}
.sum{margin:0 0 6px}
main{padding:0 14px}
footer{padding:14px;font-size:12px}
a{color:var(--acc)}
#msg{font-weight:600}
#msg.ok{color:var(--ok)}
#msg.bad{color:var(--bad)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{padding:5px 7px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap;
vertical-align:middle}
th{background:var(--head);font-weight:600;font-size:12px;white-space:normal}
td.wrap{white-space:normal;min-width:6.5em}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.name small{display:block;color:var(--mut);font-size:11px}
tr.a-D,tr.a-S{background:color-mix(in srgb,var(--warn) 8%,transparent)}
tr.st-bad{background:color-mix(in srgb,var(--bad) 8%,transparent)}
.badge{display:inline-block;white-space:nowrap;padding:0 7px;border-radius:9px;
border:1px solid currentColor;font-size:12px;font-weight:600}
.s-ok{color:var(--ok)}
.s-warn{color:var(--warn)}
.s-bad{color:var(--bad)}
.badge.a-A{color:var(--ok)}
.badge.a-D{color:var(--warn)}
.badge.a-S{color:var(--bad)}
.badge.idle{color:var(--ok)}
.badge.busy{color:var(--warn)}
td.actions{white-space:normal;min-width:11em}
button{font:inherit;font-size:12px;padding:2px 8px;margin:1px;border:1px solid var(--line);
border-radius:6px;background:var(--head);color:var(--fg);cursor:pointer}
button:hover:not(:disabled){border-color:var(--acc)}
button:disabled{opacity:.4;cursor:default}
.lbf{display:inline-block;white-space:nowrap}
.lbf input{width:5.5em;font:inherit;font-size:12px;padding:2px 4px;margin-left:6px;
border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:10px;margin:10px 0}
.chart{margin:0;padding:6px 8px;border:1px solid var(--line);border-radius:8px}
.chart figcaption{font-size:12px;color:var(--mut);display:flex;flex-wrap:wrap;gap:2px 10px}
.chart figcaption b{color:var(--fg)}
.chart svg{display:block;width:100%;height:80px;margin-top:4px}
.chart .now{fill:color-mix(in srgb,var(--mut) 14%,transparent)}
.chart .area{fill:color-mix(in srgb,var(--acc) 22%,transparent);stroke:none}
.chart .line{fill:none;stroke-width:1.5;vector-effect:non-scaling-stroke}
.chart .line.sessions{stroke:var(--acc);stroke-width:2}
.chart .line.requests{stroke:var(--mut);stroke-dasharray:3 2}
.chart .errors rect{fill:var(--bad)}
.k::before{content:"";display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
.k.sessions::before{background:var(--acc)}
.k.requests::before{background:var(--mut)}
.k.errors::before{background:var(--bad);height:6px;width:4px}
.axis{display:flex;justify-content:space-between;font-size:11px;color:var(--mut)}
@media (max-width:600px){
table,thead,tbody,tr,td{display:block}
thead{display:none}
tr{display:grid;grid-template-columns:1fr 1fr;column-gap:16px;border:1px solid var(--line);
border-radius:8px;margin:10px 0;padding:4px 10px}
td.name,td.actions,td.wrap{grid-column:1/-1}
td.name{font-size:15px}
td{display:flex;justify-content:space-between;gap:12px;border:0;padding:3px 0;white-space:normal;text-align:right}
td::before{content:attr(data-label);color:var(--mut);text-align:left}
td.name small{display:inline;margin-left:6px}
td.actions{flex-wrap:wrap;justify-content:flex-end;max-width:none}
td.actions{padding-top:6px}
td.actions::before{display:none}
section.upstream{display:flex;flex-direction:column}
section.upstream>h2{order:-3}
.sum{order:-2}
.charts{order:-1}
}
)CSS";

// Refreshes <main> every 2 s from the page's fragment (?fragment=1: <main>
// and the clock, no style or script; the server escaped it), unless an
// input has the focus or an action is under way. A button POSTs its field to the location with X-Sticky-Admin,
// which a cross-site form cannot send, and shows the answer.
const char kStatusScript[] = R"JS(
(function () {
  'use strict';
  var busy = false, timer = 0;
  var msg = document.getElementById('msg');
  function show(text, ok) {
    msg.textContent = text;
    msg.className = ok ? 'ok' : 'bad';
    clearTimeout(timer);
    timer = setTimeout(function () { msg.textContent = ''; }, 15000);
  }
  function editing() {
    var a = document.activeElement;
    return a && a.tagName === 'INPUT' && document.getElementById('main').contains(a);
  }
  function refresh(force) {
    if (!force && (busy || editing() || document.hidden)) return Promise.resolve();
    var url = new URL(location.href);
    url.searchParams.set('format', 'html');
    url.searchParams.set('fragment', '1');
    return fetch(url.href, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        ['main', 'updated'].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        });
        document.body.setAttribute('data-refreshed', String(Date.now()));
      })
      .catch(function (e) { show('refresh failed: ' + e.message, false); });
  }
  document.addEventListener('click', function (ev) {
    var b = ev.target.closest && ev.target.closest('button.act');
    if (!b || b.disabled) return;
    var d = b.dataset, value = d.value;
    if (d.field === 'lbfactor') value = b.parentNode.querySelector('input').value;
    var body = new URLSearchParams();
    body.set('upstream', d.upstream);
    body.set('worker', d.worker);
    body.set(d.field, value);
    busy = true;
    b.disabled = true;
    fetch(location.pathname, {
      method: 'POST', body: body.toString(), credentials: 'same-origin', cache: 'no-store',
      headers: { 'X-Sticky-Admin': '1', 'Accept': 'application/json',
                 'Content-Type': 'application/x-www-form-urlencoded' }
    })
      .then(function (r) {
        return r.json().then(function (j) { show(j.message || ('HTTP ' + r.status), r.ok); },
                             function () { show('HTTP ' + r.status, r.ok); });
      })
      .catch(function (e) { show('failed: ' + e.message, false); })
      .then(function () { busy = false; return refresh(true); });
  });
  setInterval(refresh, 2000);
})();
)JS";

}  // namespace sticky
