// Prometheus text exposition format 0.0.4: one family per counter or gauge,
// HELP and TYPE first, then one sample per worker labelled with `upstream`
// and `worker`. Counters end in _total; an enumeration (activation, state)
// is one gauge with a label per value, 1 for the current one.
#include <cinttypes>
#include <cstdio>
#include <functional>

#include "status/status.h"
#include "config/values.h"

namespace sticky {
namespace {

struct Sample {
  const UpstreamView* upstream;
  const WorkerRow* worker;
};

void Labels(std::string* out, const Sample& s, std::string_view extra_name = {},
            std::string_view extra_value = {}) {
  out->append("{upstream=\"");
  AppendPrometheusLabel(out, s.upstream->name);
  out->append("\",worker=\"");
  AppendPrometheusLabel(out, s.worker->name);
  out->push_back('"');
  if (!extra_name.empty()) {
    out->push_back(',');
    out->append(extra_name);
    out->append("=\"");
    AppendPrometheusLabel(out, extra_value);
    out->push_back('"');
  }
  out->push_back('}');
}

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ");
  out->append(name);
  out->push_back(' ');
  out->append(help);
  out->append("\n# TYPE ");
  out->append(name);
  out->push_back(' ');
  out->append(type);
  out->push_back('\n');
}

std::string Seconds(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
  return buf;
}

class Writer {
 public:
  Writer(std::string* out, const std::vector<Sample>& samples) : out_(out), samples_(samples) {}

  // A family with one sample per worker.
  void Family(std::string_view name, std::string_view type, std::string_view help,
              const std::function<std::string(const WorkerRow&)>& value) {
    Header(out_, name, type, help);
    for (const Sample& s : samples_) {
      out_->append(name);
      Labels(out_, s);
      out_->push_back(' ');
      out_->append(value(*s.worker));
      out_->push_back('\n');
    }
  }

  // An enumeration: one sample per worker and value, 1 for the current one.
  void Enum(std::string_view name, std::string_view label, std::string_view help,
            const std::vector<std::string>& values,
            const std::function<std::string(const WorkerRow&)>& current) {
    Header(out_, name, "gauge", help);
    for (const Sample& s : samples_) {
      const std::string now = current(*s.worker);
      for (const std::string& v : values) {
        out_->append(name);
        Labels(out_, s, label, v);
        out_->append(v == now ? " 1\n" : " 0\n");
      }
    }
  }

 private:
  std::string* out_;
  const std::vector<Sample>& samples_;
};

std::string U(std::uint64_t v) { return std::to_string(v); }

}  // namespace

std::string RenderPrometheus(const StatusView& view) {
  // Rows first: samples point into them.
  std::vector<std::vector<WorkerRow>> rows;
  rows.reserve(view.upstreams.size());
  for (const UpstreamView& u : view.upstreams) rows.push_back(WorkerRows(u, view));
  std::vector<Sample> samples;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (const WorkerRow& w : rows[i]) samples.push_back(Sample{&view.upstreams[i], &w});

  std::string out;
  Writer w(&out, samples);
  w.Family("sticky_worker_requests_total", "counter",
           "Requests sent to the worker, retries included (mod_jk's elected).",
           [](const WorkerRow& r) { return U(r.state->requests); });
  w.Family("sticky_worker_sticky_hits_total", "counter",
           "Requests that went to the worker their session belongs to.",
           [](const WorkerRow& r) { return U(r.state->sticky_hits); });
  w.Family("sticky_worker_new_sessions_total", "counter",
           "Requests without a session id sent to the worker (mod_jk's sessions).",
           [](const WorkerRow& r) { return U(r.state->new_sessions); });
  w.Family("sticky_worker_errors_total", "counter",
           "Requests to the worker that failed (connect or read failures).",
           [](const WorkerRow& r) { return U(r.state->errors); });
  w.Family("sticky_worker_probes_total", "counter", "Active probes sent to the worker (probe=URI).",
           [](const WorkerRow& r) { return U(r.state->probes); });
  w.Family("sticky_worker_probe_failures_total", "counter", "Active probes of the worker that failed.",
           [](const WorkerRow& r) { return U(r.state->probe_failures); });
  w.Family("sticky_worker_sent_bytes_total", "counter", "Bytes sent to the worker.",
           [](const WorkerRow& r) { return U(r.state->bytes_sent); });
  w.Family("sticky_worker_received_bytes_total", "counter", "Bytes received from the worker.",
           [](const WorkerRow& r) { return U(r.state->bytes_received); });
  w.Family("sticky_worker_in_flight", "gauge", "Requests to the worker in progress.",
           [](const WorkerRow& r) { return U(r.state->in_flight); });
  w.Family("sticky_worker_sticky_last_minute", "gauge",
           "Sticky requests in the last minute: 0 with 0 in flight means a drained worker is idle.",
           [](const WorkerRow& r) { return U(r.sticky_last_minute); });
  w.Family("sticky_worker_sessions", "gauge",
           "Distinct sessions sent to the worker in the sessions window (estimated, within a few "
           "percent); 0 exactly when none was.",
           [](const WorkerRow& r) { return U(r.sessions); });
  w.Family("sticky_worker_drain_done", "gauge",
           "1 when the worker is drained or stopped, no session reached it in the sessions window "
           "and nothing is in flight: it can be taken down.",
           [](const WorkerRow& r) { return U(r.drain_done ? 1 : 0); });
  w.Family("sticky_worker_lbfactor", "gauge", "Load balancing factor in force.",
           [](const WorkerRow& r) { return U(r.state->lbfactor); });
  w.Family("sticky_worker_lb_value", "gauge",
           "Load value by the balancer's method; the lowest gets the next new session.",
           [](const WorkerRow& r) { return U(r.state->lb_value); });
  w.Enum("sticky_worker_activation", "activation",
         "Administrative activation: A active, D disabled (own sessions only), S stopped.",
         {"A", "D", "S"}, [](const WorkerRow& r) { return std::string(NamesOf(r.activation).letter); });
  w.Enum("sticky_worker_state", "state", "Runtime state, as mod_jk names it.",
         {"OK/IDLE", "OK", "ERR/REC", "ERR/FRC", "OK/BUSY", "ERR", "ERR/PRB"},
         [](const WorkerRow& r) { return std::string(HealthName(r.health)); });
  w.Family("sticky_worker_recover_seconds", "gauge",
           "Seconds before a worker in error is tried again; 0 when it is not in error.",
           [](const WorkerRow& r) { return Seconds(r.recover_in_ms < 0 ? 0 : r.recover_in_ms); });
  w.Family("sticky_worker_last_error_timestamp_seconds", "gauge",
           "Unix time of the worker's latest failure; 0 when none since it last succeeded.",
           [](const WorkerRow& r) {
             return r.last_error_ago_ms < 0 ? std::string("0") : Seconds(r.last_error_wall_ms);
           });
  return out;
}

}  // namespace sticky
