#!/usr/bin/python3
"""Reads the sticky_status dashboard's per-worker charts in Debian's chromium
(headless, no network), next to the JSON document of the same moment, on a
desktop and on a phone, and takes a screenshot of each.

    /usr/bin/python3 charts.py URL UPSTREAM DESKTOP.png PHONE.png

For each screen size it waits until the page has refreshed itself twice
(so that <main> was fetched after the first JSON read), reads every chart
(the series' data-values, the points the browser parsed, the error marks,
the figure's box) and every row's badges, and reads the JSON again. When
the two JSON reads are of different minutes, a minute began in between and
the page may show either: it tries again (at most 5 times). Prints one JSON
line: per screen, the two JSON documents, what the page showed, the number
of tries, and every console error, CSP violation or request to another
origin. Exits 0 when it could read both screens, 1 otherwise. The checks
are the test's (t/44-status-charts.t).
"""
import json
import sys
import urllib.request
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # keep the source tree clean
from browser_session import BrowserSession, wait_until

# Everything the test compares, read in one go from the live DOM.
READ_PAGE = r'''
var upstream = arguments[0];
var section = document.querySelector('section[data-upstream="' + upstream + '"]');
if (!section) return null;
function box(el) {
  var r = el.getBoundingClientRect();
  return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};
}
function shown(el) {
  var s = getComputedStyle(el);
  return s.display !== 'none' && s.visibility === 'visible' && Number(s.opacity) > 0 &&
         (el.checkVisibility ? el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}) : true);
}
var charts = {};
section.querySelectorAll('.charts figure.chart').forEach(function (fig) {
  var svg = fig.querySelector('svg');
  var chart = {
    figure: box(fig), figure_shown: shown(fig),
    svg: svg ? box(svg) : null, svg_shown: svg ? shown(svg) : false,
    viewbox: svg ? svg.getAttribute('viewBox') : null,
    caption: (fig.querySelector('figcaption') || {}).textContent || '',
    first: Number(fig.getAttribute('data-first')),
    series: {}, areas: {}, errors: null
  };
  fig.querySelectorAll('polyline').forEach(function (line) {
    var points = [];
    for (var i = 0; i < line.points.numberOfItems; i++) {
      var p = line.points.getItem(i);
      points.push([p.x, p.y]);
    }
    var stroke = getComputedStyle(line).stroke;
    chart.series[line.getAttribute('data-series')] = {
      cls: line.getAttribute('class'), max: line.getAttribute('data-max'),
      values: line.getAttribute('data-values'), points: points,
      stroke: stroke, bbox_width: line.getBBox().width
    };
  });
  fig.querySelectorAll('path.area').forEach(function (path) {
    chart.areas[path.getAttribute('class')] = path.getAttribute('d');
  });
  var g = fig.querySelector('g.errors');
  if (g) {
    var rects = [];
    g.querySelectorAll('rect').forEach(function (r) {
      rects.push({x: r.x.baseVal.value, y: r.y.baseVal.value,
                  width: r.width.baseVal.value, height: r.height.baseVal.value});
    });
    chart.errors = {series: g.getAttribute('data-series'),
                    values: g.getAttribute('data-values'), rects: rects};
  }
  charts[fig.getAttribute('data-worker')] = chart;
});
var rows = {};
section.querySelectorAll('tbody tr[data-worker]').forEach(function (tr) {
  var badges = [];
  tr.querySelectorAll('td[data-label="activation"] .badge').forEach(function (b) {
    badges.push({cls: b.getAttribute('class'), text: b.textContent, shown: shown(b),
                 box: box(b)});
  });
  rows[tr.getAttribute('data-worker')] = {cls: tr.getAttribute('class'), badges: badges,
                                          box: box(tr)};
});
return {
  charts: charts, rows: rows,
  chart_order: Array.prototype.map.call(section.querySelectorAll('.charts figure.chart'),
                                        function (f) { return f.getAttribute('data-worker'); }),
  viewport_width: window.innerWidth,
  scroll_width: document.documentElement.scrollWidth,
  refreshed: document.body.getAttribute('data-refreshed')
};
'''


def minute_ms(doc):
    """The start of the current minute of a JSON document, in ms (the first
    worker's history says it; the same for all of them)."""
    for upstream in doc.get('upstreams', []):
        for worker in upstream.get('workers', []):
            iso = worker['history']['current_minute']
            t = datetime.strptime(iso, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=timezone.utc)
            return t.timestamp() * 1000
    return None


def fetch_json(url):
    with urllib.request.urlopen(url + '?format=json', timeout=10) as r:
        return json.loads(r.read().decode('utf-8'))


def read_consistently(browser, url, upstream):
    """The JSON, the page and the JSON again, within one minute."""
    tries = []
    for attempt in range(5):
        before = fetch_json(url)
        # Two refreshes of <main>: the second one's request left after `before`.
        for _ in range(2):
            seen = browser.script("return document.body.getAttribute('data-refreshed');")
            wait_until(lambda: browser.script(
                "return document.body.getAttribute('data-refreshed');") != seen,
                10, 'the page to refresh itself')
        page = browser.script(READ_PAGE, upstream)
        after = fetch_json(url)
        # The ISO times of one minute may differ by a millisecond or so
        # (each nginx process has its own cached clock); a new minute is 60 s on.
        rollover = abs(minute_ms(after) - minute_ms(before)) > 30000
        tries.append({'rollover': rollover, 'before': minute_ms(before),
                      'after': minute_ms(after)})
        if not rollover:
            return {'json': after, 'json_before': before, 'page': page, 'tries': tries}
    raise RuntimeError('a new minute began during each of %d reads' % len(tries))


def main(argv):
    if len(argv) < 5:
        print('usage: charts.py URL UPSTREAM DESKTOP.png PHONE.png', file=sys.stderr)
        return 2
    url, upstream, desktop_shot, phone_shot = argv[1:5]
    result = {'errors': [], 'screens': {}}

    with BrowserSession(url, width=1280, height=900) as browser:
        try:
            browser.open()
            wait_until(lambda: browser.exists('section[data-upstream="%s"] figure.chart' % upstream),
                       10, 'the charts')
            for name, width, height, mobile, shot in (
                    ('desktop', 1280, 900, False, desktop_shot),
                    ('phone', 390, 844, True, phone_shot)):
                browser.viewport(width, height, mobile=mobile)
                screen = read_consistently(browser, url, upstream)
                screen['viewport'] = [width, height]
                # The screenshot shows the page just read (no refresh since).
                browser.screenshot(shot, full_page=True)
                screen['refreshed_at_shot'] = browser.script(
                    "return document.body.getAttribute('data-refreshed');")
                result['screens'][name] = screen
        except Exception as e:  # reported as JSON, like every other outcome
            result['fatal'] = '%s: %s' % (type(e).__name__, e)
        result['errors'] = browser.errors()

    print(json.dumps(result))
    return 0 if len(result['screens']) == 2 and 'fatal' not in result else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
