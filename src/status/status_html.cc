// The HTML dashboard: one table per upstream, self-contained (inline CSS and
// script, no external resource), a card per worker on narrow screens, and a
// refresh every 2 seconds (the script fetches the page's fragment, <main>
// alone, and swaps it in; with scripting off a <meta> refresh every 5
// seconds does it). On a
// read_write location each worker row has buttons that POST an action with
// the X-Sticky-Admin header (status_html_assets.cc has the CSS and script).
//
// Every text from workers.properties or nginx.conf is escaped; the script
// reads the names back from data- attributes and never builds HTML.
#include <algorithm>

#include "status/status.h"
#include "status/status_chart.h"
#include "status/status_html_assets.h"
#include "config/values.h"

namespace sticky {
namespace {

class Html {
 public:
  explicit Html(std::string* out) : out_(out) {}
  Html& Raw(std::string_view s) {
    out_->append(s);
    return *this;
  }
  Html& Text(std::string_view s) {
    AppendHtmlEscaped(out_, s);
    return *this;
  }
  Html& Num(std::uint64_t v) {
    out_->append(std::to_string(v));
    return *this;
  }
  // <td data-label="label" class="cls">
  Html& Td(std::string_view label, std::string_view cls = {}) {
    Raw("<td data-label=\"").Text(label).Raw("\"");
    if (!cls.empty()) Raw(" class=\"").Raw(cls).Raw("\"");
    return Raw(">");
  }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

const char* StateClass(Health h) {
  switch (h) {
    case Health::kOkIdle:
    case Health::kOk: return "ok";
    case Health::kBusy:
    case Health::kRecovering:
    case Health::kForcedRecovery:
    case Health::kProbing: return "warn";
    case Health::kError: return "bad";
  }
  return "bad";
}

// A button that POSTs field=value for one worker (the script sends it).
void Button(Html& h, const UpstreamView& u, const WorkerRow& w, std::string_view field,
            std::string_view value, std::string_view label, std::string_view title,
            bool enabled) {
  h.Raw("<button type=\"button\" class=\"act\" data-upstream=\"").Text(u.name);
  h.Raw("\" data-worker=\"").Text(w.name).Raw("\" data-field=\"").Raw(field);
  h.Raw("\" data-value=\"").Raw(value).Raw("\" title=\"").Text(title).Raw("\"");
  if (!enabled) h.Raw(" disabled");
  h.Raw(">").Text(label).Raw("</button>");
}

void Actions(Html& h, const UpstreamView& u, const WorkerRow& w) {
  const Activation a = w.activation;
  h.Td("actions", "actions");
  Button(h, u, w, "activation", "D", "Drain", "Disabled: keeps its sessions, takes no new ones",
         a != Activation::kDisabled);
  Button(h, u, w, "activation", "S", "Stop", "Stopped: takes no request at all",
         a != Activation::kStopped);
  Button(h, u, w, "activation", "A", "Activate", "Active: takes new sessions again",
         a != Activation::kActive);
  Button(h, u, w, "action", "reset", "Reset", "Zero the counters and the load, state OK/IDLE",
         true);
  Button(h, u, w, "action", "recover", "Recover", "Try the worker in error again now",
         w.health == Health::kError);
  h.Raw("<span class=\"lbf\"><input type=\"number\" min=\"1\" max=\"100000\" value=\"");
  h.Num(w.state->lbfactor).Raw("\" aria-label=\"lbfactor of ").Text(w.name).Raw("\">");
  Button(h, u, w, "lbfactor", "", "Set", "Set the lbfactor", true);
  h.Raw("</span></td>");
}

void Row(Html& h, const StatusView& view, const UpstreamView& u, const WorkerRow& w) {
  const MemberState& s = *w.state;
  h.Raw("<tr data-worker=\"").Text(w.name).Raw("\" class=\"a-").Raw(NamesOf(w.activation).letter);
  h.Raw(" st-").Raw(StateClass(w.health)).Raw("\">");
  h.Td("worker", "name").Raw("<b>").Text(w.name).Raw("</b><small>").Text(w.member->host);
  h.Raw(":").Num(static_cast<std::uint64_t>(std::max(w.member->port, 0)));
  h.Raw("</small></td>");
  h.Td("route").Text(w.route).Raw("</td>");
  h.Td("domain").Text(w.domain).Raw("</td>");
  h.Td("distance", "n").Num(static_cast<std::uint64_t>(std::max(w.member->distance, 0)));
  h.Raw("</td>");
  h.Td("lbfactor", "n").Num(s.lbfactor).Raw("</td>");
  h.Td("activation", "wrap").Raw("<span class=\"badge a-").Raw(NamesOf(w.activation).letter);
  h.Raw("\">");
  h.Raw(NamesOf(w.activation).letter).Raw(" ").Raw(NamesOf(w.activation).word).Raw("</span>");
  if (w.activation != Activation::kActive)
    h.Raw(w.drain_done ? " <span class=\"badge idle\">done</span>"
                       : " <span class=\"badge busy\">sessions left</span>");
  h.Raw("</td>");
  h.Td("state").Raw("<span class=\"badge s-").Raw(StateClass(w.health)).Raw("\">");
  h.Raw(HealthName(w.health)).Raw("</span></td>");
  h.Td("in flight", "n").Num(s.in_flight).Raw("</td>");
  h.Td("sticky / min", "n").Num(w.sticky_last_minute).Raw("</td>");
  h.Td("sessions", "n");
  if (w.sessions_window_minutes > 0) h.Num(w.sessions);
  else h.Raw("&ndash;");
  h.Raw("</td>");
  h.Td("requests", "n").Num(s.requests).Raw("</td>");
  h.Td("sticky hits", "n").Num(s.sticky_hits).Raw("</td>");
  h.Td("new sessions", "n").Num(s.new_sessions).Raw("</td>");
  h.Td("errors", "n").Num(s.errors).Raw("</td>");
  h.Td("last error");
  if (w.last_error_ago_ms >= 0)
    h.Raw("<time datetime=\"").Raw(IsoTime(w.last_error_wall_ms)).Raw("\">")
        .Raw(HumanDuration(w.last_error_ago_ms)).Raw(" ago</time>");
  else
    h.Raw("&ndash;");
  h.Raw("</td>");
  h.Td("probe");
  if (w.probe.empty()) h.Raw("&ndash;");
  else h.Text(w.probe);
  h.Raw("</td>");
  h.Td("recover in", "n");
  if (w.recover_in_ms >= 0) h.Raw(HumanDuration(w.recover_in_ms));
  else h.Raw("&ndash;");
  h.Raw("</td>");
  if (view.read_write) Actions(h, u, w);
  h.Raw("</tr>\n");
}

void Upstream(Html& h, const StatusView& view, const UpstreamView& u) {
  const std::vector<WorkerRow> rows = WorkerRows(u, view);
  const RowTotals totals = Totals(rows);
  h.Raw("<section class=\"upstream\" data-upstream=\"").Text(u.name).Raw("\">\n<h2>upstream ");
  h.Raw("<b>").Text(u.name).Raw("</b>");
  if (u.balancer != nullptr) {
    const Balancer& b = *u.balancer;
    h.Raw(" <small>lb ").Text(b.name).Raw(" &middot; method ").Raw(MethodName(b.method));
    h.Raw(b.sticky_session ? " &middot; sticky" : " &middot; not sticky");
    if (b.sticky_session_force) h.Raw(" (forced)");
    h.Raw(" &middot; recover_time ").Num(static_cast<std::uint64_t>(b.recover_time));
    h.Raw("s</small>");
  }
  h.Raw("</h2>\n<p class=\"sum\">").Num(rows.size()).Raw(" workers: <span class=\"s-ok\">");
  h.Num(totals.good).Raw(" good</span>, <span class=\"s-warn\">").Num(totals.degraded);
  h.Raw(" degraded</span>, <span class=\"s-bad\">").Num(totals.bad).Raw(" bad</span> &middot; ");
  h.Num(totals.in_flight).Raw(" in flight</p>\n");
  h.Raw("<div class=\"scroll\"><table>\n<thead><tr><th>worker</th><th>route</th><th>domain</th>"
        "<th class=\"n\">dist.</th><th class=\"n\">lbfactor</th><th>activation</th><th>state</th>"
        "<th class=\"n\">in flight</th>"
        "<th class=\"n\" title=\"sticky requests in the last minute\">sticky / min</th>"
        "<th class=\"n\" title=\"distinct sessions in the sessions window\">sessions</th>"
        "<th class=\"n\">requests</th><th class=\"n\">sticky hits</th>"
        "<th class=\"n\">new sessions</th><th class=\"n\">errors</th><th>last error</th>"
        "<th>probe</th><th class=\"n\">recover in</th>");
  if (view.read_write) h.Raw("<th>actions</th>");
  h.Raw("</tr></thead>\n<tbody>\n");
  for (const WorkerRow& w : rows) Row(h, view, u, w);
  h.Raw("</tbody></table></div>\n<div class=\"charts\">");
  for (const WorkerRow& w : rows) AppendMinuteChart(h.out(), w);
  h.Raw("</div>\n</section>\n");
}

// The clock in the header.
void Updated(Html& h, const StatusView& view) {
  h.Raw("<time id=\"updated\" datetime=\"").Raw(IsoTime(view.wall_ms)).Raw("\">");
  h.Raw(IsoTime(view.wall_ms).substr(11, 8)).Raw(" UTC</time>");
}

void Main(Html& h, const StatusView& view) {
  h.Raw("<main id=\"main\">\n");
  if (view.upstreams.empty()) h.Raw("<p>No upstream uses <code>sticky_workers</code>.</p>\n");
  for (const UpstreamView& u : view.upstreams) Upstream(h, view, u);
  h.Raw("</main>\n");
}

}  // namespace

std::string RenderHtml(const StatusView& view) {
  std::string out;
  out.reserve(4096 + view.upstreams.size() * 4096);
  Html h(&out);
  if (view.fragment) {  // what the page's script swaps in: no style, no script
    Updated(h, view);
    h.Raw("\n");
    Main(h, view);
    return out;
  }
  h.Raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
        "<title>sticky_workers status</title>\n"
        "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>\n<style");
  if (!view.nonce.empty()) h.Raw(" nonce=\"").Text(view.nonce).Raw("\"");
  h.Raw(">").Raw(kStatusCss).Raw("</style>\n</head>\n<body");
  if (view.read_write) h.Raw(" data-rw=\"1\"");
  h.Raw(">\n<header><h1>sticky_workers</h1><span class=\"meta\">");
  h.Text(view.version).Raw(" &middot; ");
  Updated(h, view);
  h.Raw(view.read_write ? " &middot; read-write" : " &middot; read-only");
  h.Raw("</span><output id=\"msg\" role=\"status\" aria-live=\"polite\"></output></header>\n");
  Main(h, view);
  h.Raw("<footer>Drained (D) workers keep their sessions, and are <i>done</i> once no session "
        "reached them within the sessions window and nothing is in flight: then they can be "
        "stopped without losing a session. Charts: up to the last 60 minutes, one point a "
        "minute, from the first minute with traffic. "
        "Formats: "
        "<a href=\"?format=json\">json</a> &middot; <a href=\"?format=prometheus\">prometheus"
        "</a> &middot; <a href=\"?format=properties\">properties</a></footer>\n<script");
  if (!view.nonce.empty()) h.Raw(" nonce=\"").Text(view.nonce).Raw("\"");
  h.Raw(">").Raw(kStatusScript).Raw("</script>\n</body></html>\n");
  return out;
}

}  // namespace sticky
