// mod_jk's status worker properties format (`jkstatus?mime=prop`), with its
// key names, so that scripts written for jkstatus keep working:
//
//   worker.list=cluster
//   worker.cluster.type=lb
//   worker.cluster.balance_workers=tomcat1      (once per member)
//   worker.tomcat1.activation=ACT
//   worker.tomcat1.state=OK
//   ...
//
// Keys mod_jk has and nginx knows nothing of (AJP timeouts, connection
// pools) are left out; a few of our own follow mod_jk's (upstream,
// sticky_hits, sticky_last_minute, idle).
#include <set>

#include "status/status.h"
#include "config/values.h"

namespace sticky {
namespace {

class Props {
 public:
  explicit Props(std::string* out) : out_(out) {}

  void Put(std::string_view name, std::string_view key, std::string_view value) {
    out_->append("worker.");
    if (!name.empty()) {
      AppendPropertyValue(out_, name);
      out_->push_back('.');
    }
    out_->append(key);
    out_->push_back('=');
    AppendPropertyValue(out_, value);
    out_->push_back('\n');
  }
  void Put(std::string_view name, std::string_view key, std::int64_t value) {
    Put(name, key, std::to_string(value));
  }
  void Put(std::string_view name, std::string_view key, std::uint64_t value) {
    Put(name, key, std::to_string(value));
  }
  void Put(std::string_view name, std::string_view key, int value) {
    Put(name, key, static_cast<std::int64_t>(value));
  }
  void Put(std::string_view name, std::string_view key, unsigned value) {
    Put(name, key, static_cast<std::uint64_t>(value));
  }

 private:
  std::string* out_;
};

const char* Bool(bool b) { return b ? "True" : "False"; }

std::int64_t Seconds(std::int64_t ms) { return ms < 0 ? 0 : (ms + 999) / 1000; }

}  // namespace

std::string RenderProperties(const StatusView& view) {
  std::string out;
  Props p(&out);
  p.Put("", "result.type", "OK");
  p.Put("", "result.message", "Action finished");
  p.Put("", "server_software", view.version);
  p.Put("", "time_now", view.wall_ms / 1000);

  // The lb worker's name is the key, as in mod_jk; if two upstreams use lb
  // workers of the same name, the later ones are keyed by their upstream. A
  // worker used on its own is its only member: its upstream keys the lb.
  std::set<std::string_view> used;
  for (const UpstreamView& u : view.upstreams) {
    if (u.balancer == nullptr) continue;
    const Balancer& b = *u.balancer;
    std::string_view lb = b.single ? std::string_view(u.name) : std::string_view(b.name);
    if (!used.insert(lb).second) {
      lb = u.name;
      used.insert(lb);
    }
    const std::vector<WorkerRow> rows = WorkerRows(u, view);

    const RowTotals totals = Totals(rows);
    // Time to the next load decay (mod_jk's time_to_maintenance_min/max).
    std::int64_t maintenance = 0;
    if (u.maintain_seconds > 0 && u.zone != nullptr) {
      const std::int64_t due = static_cast<std::int64_t>(u.zone->last_maintenance_ms) +
                               std::int64_t{u.maintain_seconds} * 1000;
      maintenance = Seconds(due - static_cast<std::int64_t>(view.now_ms));
    }

    p.Put("", "list", lb);
    p.Put(lb, "type", "lb");
    p.Put(lb, "upstream", u.name);
    p.Put(lb, "sticky_session", Bool(b.sticky_session));
    p.Put(lb, "sticky_session_force", Bool(b.sticky_session_force));
    p.Put(lb, "retries", b.retries);
    p.Put(lb, "recover_time", b.recover_time);
    p.Put(lb, "error_escalation_time", b.error_escalation_time);
    p.Put(lb, "max_reply_timeouts", b.max_reply_timeouts);
    p.Put(lb, "method", MethodName(b.method));
    p.Put(lb, "lock", LockName(b.lock));
    p.Put(lb, "member_count", static_cast<std::uint64_t>(b.members.size()));
    p.Put(lb, "good", totals.good);
    p.Put(lb, "degraded", totals.degraded);
    p.Put(lb, "bad", totals.bad);
    p.Put(lb, "busy", totals.in_flight);
    p.Put(lb, "time_to_maintenance_min", maintenance);
    p.Put(lb, "time_to_maintenance_max", maintenance + (u.maintain_seconds > 0 ? 1 : 0));

    for (const WorkerRow& w : rows) {
      const MemberState& s = *w.state;
      const Member& m = *w.member;
      const std::string port = std::to_string(m.port < 0 ? 0 : m.port);
      p.Put(lb, "balance_workers", w.name);
      p.Put(w.name, "type", m.type);
      p.Put(w.name, "host", m.host);
      p.Put(w.name, "port", port);
      p.Put(w.name, "address", m.host + ":" + port);
      p.Put(w.name, "activation", NamesOf(w.activation).jk);
      p.Put(w.name, "lbfactor", static_cast<std::uint64_t>(s.lbfactor));
      p.Put(w.name, "route", w.route);
      p.Put(w.name, "redirect", m.redirect);
      p.Put(w.name, "domain", w.domain);
      p.Put(w.name, "distance", m.distance);
      p.Put(w.name, "state", HealthName(w.health));
      p.Put(w.name, "lbmult", s.lb_mult);
      p.Put(w.name, "lbvalue", s.lb_value);
      p.Put(w.name, "elected", s.requests);
      p.Put(w.name, "sessions", s.new_sessions);
      p.Put(w.name, "errors", s.errors);
      p.Put(w.name, "reply_timeouts", static_cast<std::uint64_t>(s.reply_timeouts));
      p.Put(w.name, "transferred", s.bytes_sent);
      p.Put(w.name, "read", s.bytes_received);
      p.Put(w.name, "busy", s.in_flight);
      const std::int64_t recover = Seconds(w.recover_in_ms);
      p.Put(w.name, "time_to_recover_min", recover);
      p.Put(w.name, "time_to_recover_max", w.recover_in_ms < 0 ? 0 : recover + 1);
      p.Put(w.name, "sticky_hits", s.sticky_hits);
      p.Put(w.name, "sticky_last_minute", w.sticky_last_minute);
      p.Put(w.name, "idle", Bool(w.idle));
      // mod_jk's "sessions" is the count of new sessions, above.
      p.Put(w.name, "sessions_in_window", w.sessions);
      p.Put(w.name, "sessions_window", std::uint64_t{w.sessions_window_minutes} * 60);
      p.Put(w.name, "drain_done", Bool(w.drain_done));
    }
  }
  return out;
}

}  // namespace sticky
