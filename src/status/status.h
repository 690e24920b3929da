// The status page: renders the state of sticky upstreams as HTML, JSON,
// Prometheus text exposition or mod_jk's status worker properties.
//
// Pure functions of a snapshot: the glue copies each upstream's zone under
// its lock, unlocks, and hands the copies here (as nginx's stub_status
// does: no lock is held while the page is written). Rendering allocates (it runs in the status handler, not
// on the proxied request path) and never touches shared memory.
//
// Everything that comes from workers.properties (names, routes, domains,
// hosts) is escaped for the output it lands in; bytes that are not UTF-8
// become U+FFFD, so JSON and HTML stay valid whatever the file holds.
#ifndef STICKY_STATUS_H
#define STICKY_STATUS_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "balancer/select.h"
#include "balancer/state.h"

namespace sticky {

// One upstream as the glue saw it.
struct UpstreamView {
  std::string_view name;              // nginx's upstream name
  const Balancer* balancer = nullptr; // the lb worker: static attributes
  const Selector* selector = nullptr; // effective routes and domains
  const Zone* zone = nullptr;         // a private copy, taken under the zone lock
  unsigned maintain_seconds = 0;      // worker.maintain
};

struct StatusView {
  std::vector<UpstreamView> upstreams;
  std::uint64_t now_ms = 0;     // the zone's clock (monotonic ms), when the copies were taken
  std::int64_t wall_ms = 0;     // Unix time in ms at the same moment, for absolute times
  bool read_write = false;      // the HTML page offers the admin buttons
  bool fragment = false;        // HTML: only <main> and the time, for the page's own refresh
  std::string_view nonce;       // CSP nonce of the HTML page's script; may be empty
  std::string_view version;     // e.g. "ngx_sticky_module/0.1 nginx/1.22.1"
};

// What a member looks like at snapshot time, derived once for every format.
struct WorkerRow {
  const Member* member = nullptr;   // static attributes (host, port, redirect, distance, type)
  const MemberState* state = nullptr;
  std::string_view name;
  std::string_view route;           // effective: the name when the file gives none
  std::string_view domain;          // effective: from a dotted route when the file gives none
  Activation activation = Activation::kActive;
  Activation configured_activation = Activation::kActive;
  Health health = Health::kOkIdle;
  std::uint64_t sticky_last_minute = 0;
  std::int64_t last_error_ago_ms = -1;    // -1: no error since the last reset or success
  std::int64_t last_error_wall_ms = 0;
  std::int64_t last_request_ago_ms = -1;  // -1: none since start or reset
  std::int64_t recover_in_ms = -1;        // ERR: time left before it is tried again; else -1
  std::string probe;                      // who tests it now, or how its probes went; "" if never
  bool idle = false;                      // nothing in flight, no sticky hit for a minute
  int rating = 0;                         // mod_jk's good (1) / degraded (0) / bad (-1)
  std::uint32_t sessions_window_minutes = 0;  // 0: sessions are not counted
  std::uint64_t sessions = 0;             // distinct sessions in the window (estimated)
  // Drained or stopped, no session in the window, nothing in flight: the
  // member can be taken down without losing a session (without a sessions
  // window: `idle` instead).
  bool drain_done = false;
  MinuteCounts history[kHistoryMinutes];  // oldest first; the last is the current minute
};

// The rows of one upstream, in member order; empty if the zone does not
// belong to the balancer (a reload raced the copy).
std::vector<WorkerRow> WorkerRows(const UpstreamView& upstream, const StatusView& view);

// An upstream's summary line: its workers by rating (mod_jk's good,
// degraded, bad) and its requests in flight.
struct RowTotals {
  int good = 0;
  int degraded = 0;
  int bad = 0;
  std::uint64_t in_flight = 0;
};
RowTotals Totals(const std::vector<WorkerRow>& rows);

std::string RenderJson(const StatusView& view);
std::string RenderPrometheus(const StatusView& view);
std::string RenderProperties(const StatusView& view);
std::string RenderHtml(const StatusView& view);

// Escaping, exposed for the tests and the renderers.
void AppendJsonString(std::string* out, std::string_view s);     // with the quotes
void AppendHtmlEscaped(std::string* out, std::string_view s);
void AppendPrometheusLabel(std::string* out, std::string_view s);  // inside the quotes
void AppendPropertyValue(std::string* out, std::string_view s);
// `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string ValidUtf8(std::string_view s);
// "1m 05s", "3h 02m", "4d 01h" for a duration in ms (>= 0).
std::string HumanDuration(std::int64_t ms);
// ISO 8601 UTC with milliseconds, "2024-05-01T12:00:00.000Z".
std::string IsoTime(std::int64_t wall_ms);

}  // namespace sticky

#endif  // STICKY_STATUS_H
