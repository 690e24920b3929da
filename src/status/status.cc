// What every status format shares: the derived rows, escaping, and the JSON
// renderer. The other formats are in status_html.cc, status_prometheus.cc
// and status_properties.cc.
#include "status/status.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "status/status_window.h"
#include "config/values.h"

namespace sticky {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0; // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Calls `ascii(c)` for each ASCII byte and `other(seq)` for each valid
// multi-byte sequence; invalid bytes become U+FFFD.
template <typename Ascii, typename Other>
void ForEachChar(std::string_view s, Ascii ascii, Other other) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = Utf8Length(s, i);
    if (n == 1) {
      ascii(s[i]);
    } else if (n == 0) {
      other(kReplacement);  // one invalid byte
      ++i;
      continue;
    } else {
      other(s.substr(i, n));
    }
    i += n;
  }
}

void Field(std::string* out, std::string_view key) {
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void Number(std::string* out, std::string_view key, std::uint64_t value) {
  Field(out, key);
  out->append(std::to_string(value));
  out->push_back(',');
}

void SignedOrNull(std::string* out, std::string_view key, std::int64_t value) {
  Field(out, key);
  out->append(value < 0 ? std::string("null") : std::to_string(value));
  out->push_back(',');
}

void Text(std::string* out, std::string_view key, std::string_view value) {
  Field(out, key);
  AppendJsonString(out, value);
  out->push_back(',');
}

void Bool(std::string* out, std::string_view key, bool value) {
  Field(out, key);
  out->append(value ? "true," : "false,");
}

void EndObject(std::string* out, char close) {
  if (!out->empty() && out->back() == ',') out->pop_back();
  out->push_back(close);
}

std::uint64_t NonNegative(int v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

// The member's minutes, oldest first, as one array per count; the last
// entry is the current minute, which began at `current_minute`.
void JsonHistory(std::string* out, const WorkerRow& w, const StatusView& view) {
  Field(out, "history");
  out->push_back('{');
  Number(out, "minutes", kHistoryMinutes);
  Text(out, "current_minute",
       IsoTime(view.wall_ms - static_cast<std::int64_t>(view.now_ms % kMinuteMs)));
  const auto series = [&](std::string_view key, std::uint32_t MinuteCounts::*count, bool known) {
    Field(out, key);
    if (!known) {
      out->append("null,");
      return;
    }
    out->push_back('[');
    for (const MinuteCounts& c : w.history) {
      out->append(std::to_string(c.*count));
      out->push_back(',');
    }
    EndObject(out, ']');
    out->push_back(',');
  };
  series("requests", &MinuteCounts::requests, true);
  series("sticky_hits", &MinuteCounts::sticky_hits, true);
  series("new_sessions", &MinuteCounts::new_sessions, true);
  series("errors", &MinuteCounts::errors, true);
  series("sessions", &MinuteCounts::sessions, w.sessions_window_minutes > 0);
  series("in_flight_peak", &MinuteCounts::in_flight_peak, true);
  EndObject(out, '}');
  out->push_back(',');
}

void JsonWorker(std::string* out, const WorkerRow& w, const StatusView& view) {
  const MemberState& s = *w.state;
  out->push_back('{');
  Text(out, "name", w.name);
  Text(out, "route", w.route);
  Text(out, "domain", w.domain);
  Text(out, "redirect", w.member->redirect);
  Number(out, "distance", NonNegative(w.member->distance));
  Text(out, "host", w.member->host);
  Number(out, "port", NonNegative(w.member->port));
  Text(out, "activation", NamesOf(w.activation).letter);
  Text(out, "configured_activation", NamesOf(w.configured_activation).letter);
  Text(out, "state", HealthName(w.health));
  Number(out, "lbfactor", s.lbfactor);
  Number(out, "configured_lbfactor", s.configured_lbfactor);
  Number(out, "lbmult", s.lb_mult);
  Number(out, "lbvalue", s.lb_value);
  Number(out, "in_flight", s.in_flight);
  Number(out, "requests", s.requests);
  Number(out, "sticky_hits", s.sticky_hits);
  Number(out, "new_sessions", s.new_sessions);
  Number(out, "errors", s.errors);
  Number(out, "reply_timeouts", s.reply_timeouts);
  Number(out, "probes", s.probes);
  Number(out, "probe_failures", s.probe_failures);
  Text(out, "probe", w.probe);
  Number(out, "bytes_sent", s.bytes_sent);
  Number(out, "bytes_received", s.bytes_received);
  Number(out, "sticky_last_minute", w.sticky_last_minute);
  SignedOrNull(out, "last_request_ago_ms", w.last_request_ago_ms);
  Field(out, "last_error");
  if (w.last_error_ago_ms < 0) {
    out->append("null,");
  } else {
    AppendJsonString(out, IsoTime(w.last_error_wall_ms));
    out->push_back(',');
  }
  SignedOrNull(out, "last_error_ago_ms", w.last_error_ago_ms);
  SignedOrNull(out, "recover_in_ms", w.recover_in_ms);
  Bool(out, "idle", w.idle);
  if (w.sessions_window_minutes > 0) Number(out, "sessions", w.sessions);
  else SignedOrNull(out, "sessions", -1);
  Number(out, "sessions_window_s", std::uint64_t{w.sessions_window_minutes} * 60);
  Bool(out, "drain_done", w.drain_done);
  JsonHistory(out, w, view);
  Text(out, "rating", w.rating > 0 ? "good" : w.rating < 0 ? "bad" : "degraded");
  EndObject(out, '}');
}

// The probe column: who tests the member now, else how its probes went.
std::string ProbeText(const MemberState& s, Health health) {
  switch (static_cast<ProbeKind>(s.probe_kind)) {
    case ProbeKind::kActive: return "probing";
    case ProbeKind::kRequest: return "a request tests it";
    case ProbeKind::kNone: break;
  }
  if (s.probes == 0) return health == Health::kProbing ? "testing" : "";
  std::string text;
  if (IsErrorFamily(health)) text = "failed";
  else if (s.probe_fails > 0) text = std::to_string(s.probe_fails) + " failed in a row";
  else text = "passed";
  return text + " (" + std::to_string(s.probes) + " sent, " + std::to_string(s.probe_failures) +
         " failed)";
}

}  // namespace

RowTotals Totals(const std::vector<WorkerRow>& rows) {
  RowTotals t;
  for (const WorkerRow& w : rows) {
    (w.rating > 0 ? t.good : w.rating < 0 ? t.bad : t.degraded)++;
    t.in_flight += w.state->in_flight;
  }
  return t;
}

std::vector<WorkerRow> WorkerRows(const UpstreamView& upstream, const StatusView& view) {
  std::vector<WorkerRow> rows;
  const Zone* zone = upstream.zone;
  const Balancer* b = upstream.balancer;
  if (zone == nullptr || b == nullptr || upstream.selector == nullptr ||
      zone->member_count != b->members.size() ||
      upstream.selector->member_count() != b->members.size())
    return rows;
  const std::uint64_t now = view.now_ms;
  const auto ago = [now](std::uint64_t t) -> std::int64_t {
    return t == 0 ? -1 : static_cast<std::int64_t>(now >= t ? now - t : 0);
  };
  rows.reserve(zone->member_count);
  for (std::size_t i = 0; i < zone->member_count; ++i) {
    const MemberState& s = zone->record(i);
    if (s.Name() != b->members[i].name) return {};  // not this balancer's zone
    WorkerRow w;
    w.member = &b->members[i];
    w.state = &s;
    w.name = s.Name();
    w.route = upstream.selector->route(i);
    w.domain = upstream.selector->domain(i);
    w.activation = s.GetActivation();
    w.configured_activation = static_cast<Activation>(s.configured_activation);
    w.health = s.GetHealth();
    w.sticky_last_minute = StickyLastMinute(s, now);
    w.last_error_ago_ms = ago(s.last_error_ms);
    if (w.last_error_ago_ms >= 0) w.last_error_wall_ms = view.wall_ms - w.last_error_ago_ms;
    w.last_request_ago_ms = ago(s.last_request_ms);
    if (w.health == Health::kError)
      w.recover_in_ms =
          static_cast<std::int64_t>(s.recover_at_ms > now ? s.recover_at_ms - now : 0);
    w.probe = ProbeText(s, w.health);
    w.idle = s.in_flight == 0 && w.sticky_last_minute == 0;
    const MemberActivity& activity = zone->activity(i);
    w.sessions_window_minutes = zone->SessionsWindowMinutes();
    w.sessions = SessionsInWindow(activity, zone->session_sketches, now);
    const bool quiet = w.sessions_window_minutes > 0 ? s.in_flight == 0 && w.sessions == 0 : w.idle;
    w.drain_done = w.activation != Activation::kActive && quiet;
    ReadHistory(activity, zone->session_sketches, now, w.history);
    // mod_jk's default rating (status worker "good"/"bad" lists).
    const bool error = w.health == Health::kError;
    if (w.activation == Activation::kStopped || error) w.rating = -1;
    else if (w.activation == Activation::kActive) w.rating = 1;
    else w.rating = 0;
    rows.push_back(w);
  }
  return rows;
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  ForEachChar(s, [&](char c) { out.push_back(c); }, [&](std::string_view seq) { out.append(seq); });
  return out;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  ForEachChar(
      s,
      [&](char c) {
        switch (c) {
          case '"': out->append("\\\""); return;
          case '\\': out->append("\\\\"); return;
          case '\n': out->append("\\n"); return;
          case '\r': out->append("\\r"); return;
          case '\t': out->append("\\t"); return;
          // Safe inside an HTML <script> too.
          case '<': out->append("\\u003c"); return;
          case '>': out->append("\\u003e"); return;
          case '&': out->append("\\u0026"); return;
          default: break;
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
      },
      [&](std::string_view seq) {
        if (seq == "\xE2\x80\xA8") out->append("\\u2028");       // line separators end
        else if (seq == "\xE2\x80\xA9") out->append("\\u2029");  // a JavaScript string
        else out->append(seq);
      });
  out->push_back('"');
}

void AppendHtmlEscaped(std::string* out, std::string_view s) {
  ForEachChar(
      s,
      [&](char c) {
        switch (c) {
          case '&': out->append("&amp;"); return;
          case '<': out->append("&lt;"); return;
          case '>': out->append("&gt;"); return;
          case '"': out->append("&quot;"); return;
          case '\'': out->append("&#39;"); return;
          default: break;
        }
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') out->append("\xEF\xBF\xBD");
        else out->push_back(c);
      },
      [&](std::string_view seq) { out->append(seq); });
}

void AppendPrometheusLabel(std::string* out, std::string_view s) {
  ForEachChar(
      s,
      [&](char c) {
        if (c == '\\') out->append("\\\\");
        else if (c == '"') out->append("\\\"");
        else if (c == '\n') out->append("\\n");
        else out->push_back(c);
      },
      [&](std::string_view seq) { out->append(seq); });
}

void AppendPropertyValue(std::string* out, std::string_view s) {
  // As java.util.Properties and mod_jk's reader expect: one line per key.
  ForEachChar(
      s,
      [&](char c) {
        if (c == '\\') out->append("\\\\");
        else if (c == '\n') out->append("\\n");
        else if (c == '\r') out->append("\\r");
        else out->push_back(c);
      },
      [&](std::string_view seq) { out->append(seq); });
}

std::string HumanDuration(std::int64_t ms) {
  if (ms < 0) ms = 0;
  const std::int64_t s = ms / 1000;
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof(buf), "%" PRId64 "s", s);
  else if (s < 3600) std::snprintf(buf, sizeof(buf), "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof(buf), "%" PRId64 "h %02" PRId64 "m", s / 3600, s / 60 % 60);
  else std::snprintf(buf, sizeof(buf), "%" PRId64 "d %02" PRId64 "h", s / 86400, s / 3600 % 24);
  return buf;
}

std::string IsoTime(std::int64_t wall_ms) {
  if (wall_ms < 0) wall_ms = 0;
  const std::time_t t = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(wall_ms % 1000));
  return buf;
}

std::string RenderJson(const StatusView& view) {
  std::string out = "{";
  Text(&out, "version", view.version);
  Text(&out, "time", IsoTime(view.wall_ms));
  Bool(&out, "read_write", view.read_write);
  Field(&out, "upstreams");
  out.push_back('[');
  for (const UpstreamView& u : view.upstreams) {
    out.push_back('{');
    Text(&out, "name", u.name);
    if (u.balancer != nullptr) {
      const Balancer& b = *u.balancer;
      Text(&out, "lb", b.name);
      Text(&out, "method", MethodName(b.method));
      Bool(&out, "sticky_session", b.sticky_session);
      Bool(&out, "sticky_session_force", b.sticky_session_force);
      Number(&out, "recover_time", static_cast<std::uint64_t>(b.recover_time));
      Number(&out, "maintain", u.maintain_seconds);
    }
    Field(&out, "workers");
    out.push_back('[');
    for (const WorkerRow& w : WorkerRows(u, view)) {
      JsonWorker(&out, w, view);
      out.push_back(',');
    }
    EndObject(&out, ']');
    EndObject(&out, '}');
    out.push_back(',');
  }
  EndObject(&out, ']');
  EndObject(&out, '}');
  out.push_back('\n');
  return out;
}

}  // namespace sticky
