// The C face of the request-time core (sticky_core.h, "balancing"): a thin
// translation between C structs and session.h / select.h / state.h. Nothing
// here allocates after sticky_balancer_create(), and nothing throws.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

#include "config/cookie.h"
#include "config/model.h"
#include "activity/sketch.h"
#include "balancer/probe.h"
#include "balancer/processes.h"
#include "balancer/select.h"
#include "balancer/session.h"
#include "balancer/state.h"
#include "c_api/handles.h"
#include "c_api/sticky_core.h"

#define STICKY_API extern "C"

struct sticky_balancer_s {
  sticky_balancer_s(const sticky::Balancer& b, unsigned maintain)
      : balancer(b), selector(b), maintain_seconds(maintain) {}

  sticky::Balancer balancer;  // a copy: the balancer outlives nothing it points to
  sticky::Selector selector;
  unsigned maintain_seconds;
  sticky::HealthOptions health;  // from nginx.conf: probes, slow start
  // The text after "NAME=.ROUTE" of the lb's own cookie (set_session_cookie).
  sticky::CookieAttributes cookie = sticky::FormatCookieAttributes({}, balancer.session_cookie_path);
};

namespace {

// Cookie headers looked at per request; more are ignored, as more session
// candidates than kMaxSessionCandidates are.
constexpr std::size_t kMaxCookieHeaders = 32;

static_assert(STICKY_MAX_SESSIONS == sticky::kMaxSessionCandidates);

using sticky::Uninitialized;
static_assert(std::is_trivially_destructible_v<sticky::SessionCandidate> &&
              std::is_trivially_destructible_v<std::string_view>);

sticky_str_t Str(std::string_view s) { return sticky_str_t{s.data(), s.size()}; }
std::string_view View(const sticky_str_t& s) { return std::string_view(s.data, s.len); }

sticky::Zone& ZoneAt(void* zone) { return *static_cast<sticky::Zone*>(zone); }
const sticky::Zone& ZoneAt(const void* zone) { return *static_cast<const sticky::Zone*>(zone); }

void ToC(const sticky::Transition& from, sticky_transition_t* to) {
  to->member = from.member;
  to->from = sticky::HealthName(from.from);
  to->to = sticky::HealthName(from.to);
  to->cause = sticky::HealthCauseName(from.cause);
  if (from.to == sticky::Health::kError || from.to == sticky::Health::kForcedRecovery)
    to->level = STICKY_LOG_WARN;
  else if (sticky::IsErrorFamily(from.from) && !sticky::IsErrorFamily(from.to))
    to->level = STICKY_LOG_NOTICE;
  else
    to->level = STICKY_LOG_INFO;
}

// A STICKY_OUTCOME_... after fail_on_status was applied, in the core's terms.
sticky::Outcome JudgedOutcome(int judged) {
  switch (judged) {
    case STICKY_OUTCOME_SUCCESS: return sticky::Outcome::kSuccess;
    case STICKY_OUTCOME_CONNECT_FAILED: return sticky::Outcome::kConnectFailed;
    case STICKY_OUTCOME_READ_FAILED: return sticky::Outcome::kReadFailed;
    case STICKY_OUTCOME_REPLY_TIMEOUT: return sticky::Outcome::kReplyTimeout;
    case STICKY_OUTCOME_FAIL_ON_STATUS: return sticky::Outcome::kFailOnStatus;
    default: return sticky::Outcome::kNeutral;
  }
}

sticky::StatusVerdict Judge(const sticky_balancer_t* b, std::size_t member, int status) {
  const std::vector<int>& list = b->balancer.members[member].fail_on_status;
  if (list.empty()) return sticky::StatusVerdict::kPass;  // most members
  return sticky::ClassifyStatus(list.data(), list.size(), status);
}

// Runs `step` (which fills up to `n` core transitions) and converts them,
// in the caller's buffer: there is no other buffer here (the step cannot
// stop half-way, and a request-time call must not allocate), and one of
// our own would cap what gets logged. The core's transitions are smaller
// than the C ones, so they are written at the start of `out`, then
// converted from the last to the first: out[i] only covers core entries of
// index >= i, which are already converted (core[i] itself is read first).
static_assert(sizeof(sticky::Transition) <= sizeof(sticky_transition_t) &&
              alignof(sticky::Transition) <= alignof(sticky_transition_t) &&
              std::is_trivially_copyable_v<sticky::Transition> &&
              std::is_trivially_copyable_v<sticky_transition_t>);

template <typename Step>
std::size_t Transitions(sticky_transition_t* out, std::size_t n, Step step) {
  if (out == nullptr || n == 0) return step(nullptr, 0);  // applies them all the same
  unsigned char* raw = reinterpret_cast<unsigned char*>(out);
  for (std::size_t i = 0; i < n; ++i)
    ::new (static_cast<void*>(raw + i * sizeof(sticky::Transition))) sticky::Transition();
  sticky::Transition* core = std::launder(reinterpret_cast<sticky::Transition*>(raw));
  const std::size_t got = std::min(step(core, n), n);
  for (std::size_t i = got; i-- > 0;) {
    sticky::Transition t;
    std::memcpy(&t, raw + i * sizeof(sticky::Transition), sizeof t);
    sticky_transition_t c;
    ToC(t, &c);
    ::new (static_cast<void*>(raw + i * sizeof(sticky_transition_t))) sticky_transition_t(c);
  }
  return got;
}

}  // namespace

STICKY_API int sticky_balancer_create(const sticky_config_t* cfg, const sticky_lb_t* lb,
                                      sticky_balancer_t** out, sticky_error_t* err) noexcept {
  try {
    *out = new sticky_balancer_s(*lb->rep, sticky_config_maintain(cfg));
    return 0;
  } catch (...) {
    std::snprintf(err->message, sizeof(err->message), "out of memory for lb worker \"%s\"",
                  lb->rep->name.c_str());
  }
  return -1;
}

STICKY_API void sticky_balancer_free(sticky_balancer_t* b) noexcept { delete b; }

// The C enum and the model's share their values.
static_assert(static_cast<int>(sticky::Activation::kActive) == STICKY_ACTIVE &&
              static_cast<int>(sticky::Activation::kDisabled) == STICKY_DISABLED &&
              static_cast<int>(sticky::Activation::kStopped) == STICKY_STOPPED);

STICKY_API int sticky_member_activation(const sticky_balancer_t* b, const void* zone,
                                        size_t member) noexcept {
  if (member >= b->selector.member_count()) return STICKY_STOPPED;
  return static_cast<int>(ZoneAt(zone).record(member).GetActivation());
}

STICKY_API size_t sticky_balancer_members(const sticky_balancer_t* b) noexcept {
  return b->selector.member_count();
}

STICKY_API sticky_str_t sticky_balancer_member_name(const sticky_balancer_t* b,
                                                    size_t index) noexcept {
  return Str(b->selector.name(index));
}

STICKY_API sticky_str_t sticky_balancer_member_route(const sticky_balancer_t* b,
                                                     size_t index) noexcept {
  return Str(b->selector.route(index));
}

STICKY_API sticky_str_t sticky_balancer_session_path(const sticky_balancer_t* b) noexcept {
  return Str(b->balancer.session_path);
}

STICKY_API int sticky_cookie_option_check(const char* name, size_t name_len, const char* value,
                                          size_t value_len, sticky_error_t* err) noexcept {
  try {
    sticky::CookieOptions options;
    std::string error;
    if (sticky::SetCookieOption(std::string_view(name, name_len),
                                std::string_view(value, value_len), &options, &error))
      return 0;
    StickySetError(err, error);
  } catch (...) {
    StickySetError(err, "out of memory");
  }
  return -1;
}

STICKY_API int sticky_balancer_set_cookie(sticky_balancer_t* b,
                                          const sticky_cookie_options_t* options,
                                          sticky_error_t* err) noexcept {
  try {
    const sticky::Balancer& lb = b->balancer;
    const std::pair<const char*, sticky_str_t> given[] = {{"domain", options->domain},
                                                          {"path", options->path},
                                                          {"samesite", options->samesite},
                                                          {"secure", options->secure}};
    sticky::CookieOptions cookie;
    std::string error;
    for (const auto& [name, value] : given) {
      if (value.len == 0) continue;
      if (!lb.set_session_cookie) {
        StickySetError(err, "cookie_" + std::string(name) + "= needs set_session_cookie=true on lb \"" +
                          lb.name + "\"");
        return -1;
      }
      if (!sticky::SetCookieOption(name, std::string_view(value.data, value.len), &cookie,
                                   &error)) {
        StickySetError(err, error);
        return -1;
      }
    }
    if (lb.set_session_cookie) {
      error = sticky::CookieOptionsProblem(cookie);
      if (error.empty()) error = sticky::CookieNameProblem(lb.session_cookie);
      if (error.empty() && cookie.path.empty())
        error = sticky::CookiePathProblem(lb.session_cookie_path);
      // The cookie's value is ".ROUTE".
      for (size_t i = 0; error.empty() && i < lb.members.size(); ++i)
        error = sticky::CookieValueProblem(b->selector.route(i));
      if (!error.empty()) {
        StickySetError(err, "lb \"" + lb.name + "\": " + error);
        return -1;
      }
    }
    b->cookie = sticky::FormatCookieAttributes(cookie, lb.session_cookie_path);
    return 0;
  } catch (...) {
    StickySetError(err, "out of memory");
  }
  return -1;
}

STICKY_API int sticky_balancer_session_cookie(const sticky_balancer_t* b, sticky_str_t* name,
                                              sticky_str_t* attributes,
                                              sticky_str_t* tls_attributes) noexcept {
  if (!b->balancer.set_session_cookie) return 0;
  *name = Str(b->balancer.session_cookie);
  *attributes = Str(b->cookie.plain);
  *tls_attributes = Str(b->cookie.tls);
  return 1;
}

STICKY_API size_t sticky_zone_bytes(size_t members, size_t processes,
                                    unsigned window_minutes) noexcept {
  return sticky::ZoneBytes(members, processes,
                           std::min(window_minutes, sticky::kMaxSessionsWindowMinutes));
}

STICKY_API int sticky_zone_build(const sticky_balancer_t* b, void* memory, size_t bytes,
                                 size_t processes, const void* old, size_t old_bytes,
                                 uint64_t now_ms, sticky_zone_stats_t* stats,
                                 sticky_error_t* err) noexcept {
  try {
    sticky::ReconcileStats s;
    if (sticky::ReconcileZone(memory, bytes, b->balancer, old, old ? old_bytes : 0, now_ms, &s,
                              &b->health, processes) == nullptr) {
      std::snprintf(err->message, sizeof(err->message),
                    "cannot build the state of lb worker \"%s\" in %zu bytes",
                    b->balancer.name.c_str(), bytes);
      return -1;
    }
    stats->kept = s.kept;
    stats->added = s.added;
    stats->removed = s.removed;
    stats->fresh = s.fresh ? 1 : 0;
    return 0;
  } catch (...) {
    std::snprintf(err->message, sizeof(err->message), "out of memory");
  }
  return -1;
}

STICKY_API void sticky_find_sessions(const sticky_balancer_t* b, const char* uri, size_t uri_len,
                                     const sticky_str_t* cookies, size_t ncookies,
                                     sticky_sessions_t* out) noexcept {
  constexpr std::size_t kMax = sticky::kMaxSessionCandidates;
  Uninitialized<std::string_view, kMaxCookieHeaders> header_storage;
  std::string_view* headers = header_storage.data();
  const std::size_t n = std::min(ncookies, kMaxCookieHeaders);
  for (std::size_t i = 0; i < n; ++i)
    ::new (static_cast<void*>(headers + i)) std::string_view(View(cookies[i]));

  Uninitialized<sticky::SessionCandidate, kMax> found_storage;
  sticky::SessionCandidate* found = found_storage.data();
  out->count = sticky::FindSessionCandidates(std::string_view(uri, uri_len), headers, n,
                                             b->selector.session_names(), found, kMax);
  for (std::size_t i = 0; i < out->count; ++i) {
    out->session[i].id = Str(found[i].id);
    out->session[i].route = Str(found[i].route);
  }
}

STICKY_API void sticky_select(const sticky_balancer_t* b, const void* zone,
                              const sticky_sessions_t* sessions, const uint64_t* tried,
                              uint64_t now_ms, sticky_decision_t* out,
                              uint64_t* session) noexcept {
  Uninitialized<sticky::SessionCandidate, sticky::kMaxSessionCandidates> storage;
  sticky::SessionCandidate* candidates = storage.data();
  std::size_t n = std::min(sessions->count, sticky::kMaxSessionCandidates);
  for (std::size_t i = 0; i < n; ++i)
    ::new (static_cast<void*>(candidates + i)) sticky::SessionCandidate{
        View(sessions->session[i].id), View(sessions->session[i].route),
        sticky::SessionSource::kCookie};

  const sticky::Zone& z = ZoneAt(zone);
  sticky::SelectRequest request;
  request.candidates = candidates;
  request.candidate_count = n;
  request.tried = tried;
  request.now_ms = now_ms;
  request.rotation = z.rotation;

  sticky::Decision d = b->selector.Select(z, request);
  out->verdict = d.verdict == sticky::Verdict::kMember   ? STICKY_PICK_MEMBER
                 : d.verdict == sticky::Verdict::kForce503 ? STICKY_PICK_FORCE_503
                                                           : STICKY_PICK_NONE;
  out->member = d.member;
  out->sticky_hit = d.sticky_hit;
  out->route_changed = d.route_changed;
  out->new_session = d.new_session;
  out->route = Str(d.route);
  if (session != nullptr) *session = sticky::SessionHash(d.session_id);
  out->reason = sticky::ReasonName(d.reason);
}

namespace {
std::size_t Slot(int process) {
  return process < 0 ? sticky::kNoProcess : static_cast<std::size_t>(process);
}
}  // namespace

STICKY_API int sticky_process_attach(void* zone, unsigned pid, uint64_t start_token) noexcept {
  const std::size_t slot = sticky::AttachProcess(ZoneAt(zone), pid, start_token);
  return slot == sticky::kNoProcess ? -1 : static_cast<int>(slot);
}

STICKY_API int sticky_process_find(const void* zone, unsigned pid) noexcept {
  const std::size_t slot = sticky::FindProcess(ZoneAt(zone), pid);
  return slot == sticky::kNoProcess ? -1 : static_cast<int>(slot);
}

STICKY_API size_t sticky_processes(const void* zone, sticky_process_t* out, size_t n) noexcept {
  const sticky::Zone& z = ZoneAt(zone);
  std::size_t used = 0;
  for (std::size_t i = 0; i < z.process_capacity; ++i) {
    const sticky::ProcessSlot& s = z.slots()[i];
    if (s.pid == 0) continue;
    if (used < n) out[used] = sticky_process_t{static_cast<int>(i), s.pid, s.start_token};
    ++used;
  }
  return used;
}

STICKY_API size_t sticky_process_release(const sticky_balancer_t*, void* zone, int slot,
                                         uint64_t now_ms, sticky_transition_t* out,
                                         size_t n) noexcept {
  if (slot < 0) return 0;
  return Transitions(out, n, [&](sticky::Transition* batch, std::size_t cap) {
    return sticky::ReleaseProcess(ZoneAt(zone), Slot(slot), now_ms, batch, cap);
  });
}

STICKY_API int sticky_process_check_due(void* zone, uint64_t now_ms, uint64_t period_ms) noexcept {
  return sticky::ProcessCheckDue(ZoneAt(zone), now_ms, period_ms) ? 1 : 0;
}

STICKY_API int sticky_report_start(const sticky_balancer_t* b, void* zone,
                                   const sticky_decision_t* decision, uint64_t session,
                                   int process, uint64_t now_ms,
                                   sticky_transition_t* t) noexcept {
  if (decision->verdict != STICKY_PICK_MEMBER || decision->member < 0 ||
      static_cast<std::size_t>(decision->member) >= b->selector.member_count())
    return 0;
  sticky::AttemptKind kind{decision->sticky_hit != 0, decision->new_session != 0, session};
  sticky::Transition transition;
  if (!sticky::ReportStart(ZoneAt(zone), decision->member, kind, now_ms, &transition,
                           Slot(process)))
    return 0;
  ToC(transition, t);
  return 1;
}

STICKY_API int sticky_end_attempt(const sticky_balancer_t* b, void* zone, size_t member,
                                  int process, int outcome, int status, uint64_t bytes_sent,
                                  uint64_t bytes_received) noexcept {
  if (member >= b->selector.member_count()) return -1;
  int judged = outcome;
  if (outcome == STICKY_OUTCOME_SUCCESS) {
    switch (Judge(b, member, status)) {
      case sticky::StatusVerdict::kPass: break;
      case sticky::StatusVerdict::kFailMember: judged = STICKY_OUTCOME_FAIL_ON_STATUS; break;
      case sticky::StatusVerdict::kFailRequest: judged = STICKY_OUTCOME_NEUTRAL; break;
    }
  }
  if (!sticky::EndAttempt(ZoneAt(zone), member, JudgedOutcome(judged), bytes_sent, bytes_received,
                          Slot(process)))
    return -1;
  return judged;
}

STICKY_API int sticky_finish_end(const sticky_balancer_t* b, void* zone, size_t member,
                                 int judged, uint64_t bytes_sent, uint64_t bytes_received,
                                 uint64_t now_ms, sticky_transition_t* t) noexcept {
  if (member >= b->selector.member_count()) return 0;
  sticky::Transition transition;
  if (!sticky::FinishEnd(ZoneAt(zone), member, JudgedOutcome(judged), bytes_sent, bytes_received,
                         now_ms, &transition))
    return 0;
  ToC(transition, t);
  return 1;
}

STICKY_API size_t sticky_maintain(const sticky_balancer_t* b, void* zone, uint64_t now_ms,
                                  sticky_transition_t* out, size_t n) noexcept {
  return Transitions(out, n, [&](sticky::Transition* batch, std::size_t cap) {
    return sticky::Maintain(ZoneAt(zone), now_ms, b->maintain_seconds, batch, cap);
  });
}

STICKY_API size_t sticky_force_recovery(const sticky_balancer_t*, void* zone, uint64_t now_ms,
                                        sticky_transition_t* out, size_t n) noexcept {
  return Transitions(out, n, [&](sticky::Transition* batch, std::size_t cap) {
    return sticky::ForceRecovery(ZoneAt(zone), now_ms, batch, cap);
  });
}

STICKY_API void sticky_health_options_init(sticky_health_options_t* o) noexcept {
  const sticky::HealthOptions d;
  o->probes = d.active_probes ? 1 : 0;
  o->interval_ms = d.probe_interval_ms;
  o->timeout_ms = d.probe_timeout_ms;
  o->passes = d.probe_passes;
  o->fails = d.probe_fails;
  o->slow_start_ms = d.slow_start_ms;
  o->sessions_window = d.sessions_window_minutes;
}

STICKY_API void sticky_balancer_set_health(sticky_balancer_t* b,
                                           const sticky_health_options_t* o) noexcept {
  b->health.active_probes = o->probes != 0;
  b->health.probe_interval_ms = std::max<uint64_t>(o->interval_ms, 1);
  b->health.probe_timeout_ms = std::max<uint64_t>(o->timeout_ms, 1);
  b->health.probe_passes = std::max(o->passes, 1u);
  b->health.probe_fails = o->fails;
  b->health.slow_start_ms = o->slow_start_ms;
  b->health.sessions_window_minutes = std::min(o->sessions_window, sticky::kMaxSessionsWindowMinutes);
}

STICKY_API uint64_t sticky_balancer_tick_ms(const sticky_balancer_t* b) noexcept {
  constexpr uint64_t kTickMs = 1000;
  return b->health.active_probes ? std::min(kTickMs, b->health.probe_interval_ms) : kTickMs;
}

STICKY_API size_t sticky_probe_claim(const sticky_balancer_t*, void* zone, uint64_t now_ms,
                                     unsigned owner, sticky_probe_claim_t* out,
                                     size_t n) noexcept {
  constexpr std::size_t kBatch = 64;
  sticky::ProbeClaim batch[kBatch];
  const std::size_t got = sticky::ClaimProbes(ZoneAt(zone), now_ms, owner, batch, std::min(n, kBatch));
  for (std::size_t i = 0; i < got; ++i) {
    out[i].member = batch[i].member;
    out[i].recovering = batch[i].recovering ? 1 : 0;
    out[i].changed = batch[i].changed ? 1 : 0;
    if (batch[i].changed) ToC(batch[i].transition, &out[i].t);
  }
  return got;
}

STICKY_API int sticky_probe_end(const sticky_balancer_t* b, void* zone, size_t member,
                                unsigned owner, int verdict, uint64_t now_ms,
                                sticky_transition_t* t) noexcept {
  if (member >= b->selector.member_count()) return 0;
  const sticky::ProbeVerdict v = verdict == STICKY_PROBE_PASSED   ? sticky::ProbeVerdict::kPassed
                                 : verdict == STICKY_PROBE_FAILED ? sticky::ProbeVerdict::kFailed
                                                                  : sticky::ProbeVerdict::kAbandoned;
  sticky::Transition transition;
  if (!sticky::EndProbe(ZoneAt(zone), member, owner, v, now_ms, &transition)) return 0;
  ToC(transition, t);
  return 1;
}

// For the status and admin boundary (sticky_core_status.cc; handles.h).
const sticky::Balancer& StickyBalancerModel(const sticky_balancer_t* b) { return b->balancer; }
const sticky::Selector& StickyBalancerSelector(const sticky_balancer_t* b) { return b->selector; }
unsigned StickyBalancerMaintain(const sticky_balancer_t* b) { return b->maintain_seconds; }
