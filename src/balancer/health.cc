// The failure and recovery state machine (health.h, state.h): the one
// function that changes a member's health, the periodic maintenance and
// mod_jk's forced recovery. Zone lock held by the caller; time passed in.
#include <algorithm>
#include <limits>

#include "balancer/counters.h"
#include "balancer/state.h"

namespace sticky {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// A request probe (no probe=) whose request has not ended after this long
// (its process died) no longer holds the member: another request may test it.
constexpr std::uint64_t kRequestProbeHoldMs = 60'000;

// Slow start never makes an attempt weigh more than this many lb_mult.
constexpr std::uint64_t kSlowStartMaxFactor = 100;

bool OkFamily(Health h) { return h == Health::kOkIdle || h == Health::kOk || h == Health::kBusy; }

// The lowest load among the other members new sessions may go to, so that a
// member in slow start competes from the current level (0 when none).
std::uint64_t MinOtherLbValue(const Zone& zone, const MemberState& self, std::uint64_t now_ms) {
  std::uint64_t min = kMax;
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    const MemberState& m = zone.record(i);
    if (&m == &self || m.GetActivation() != Activation::kActive || !MemberUsable(zone, m, now_ms))
      continue;
    min = std::min(min, m.lb_value);
  }
  return min == kMax ? 0 : min;
}

void ClearClaim(MemberState& m) {
  m.probe_kind = static_cast<std::uint8_t>(ProbeKind::kNone);
  m.probe_owner = 0;
  m.probe_deadline_ms = 0;
}

// mod_jk's local error: a failure while other attempts on the member are in
// flight may be the request's fault rather than the member's, so only that
// request avoids it, until the streak is error_escalation_time old.
bool StaysLocal(const Zone& zone, const MemberState& m, std::uint64_t now_ms) {
  return zone.error_escalation_ms > 0 && AtomicLoad(m.in_flight) > 0 &&
         (m.first_error_ms == 0 || now_ms - m.first_error_ms < zone.error_escalation_ms);
}

Health EnterError(const Zone& zone, MemberState& m, std::uint64_t now_ms) {
  if (m.first_error_ms == 0) m.first_error_ms = now_ms;
  m.last_error_ms = now_ms;
  m.recover_at_ms = SaturatingAdd(now_ms, zone.recover_time_ms);
  m.recovered_at_ms = 0;
  m.load_carry = 0;
  m.probe_passes = 0;
  // An active claim ends with its probe (EndProbe ignores the verdict then).
  if (m.probe_kind == static_cast<std::uint8_t>(ProbeKind::kRequest)) ClearClaim(m);
  return Health::kError;
}

// The member is healthy again: errors are forgotten; with slow start its
// share of new sessions ramps up from here, starting at the current level.
Health LeaveError(const Zone& zone, MemberState& m, Health from, std::uint64_t now_ms) {
  m.first_error_ms = m.last_error_ms = m.recover_at_ms = 0;
  if (IsErrorFamily(from) && zone.slow_start_ms > 0) {
    m.recovered_at_ms = now_ms;
    if (zone.GetMethod() != Method::kBusyness) m.lb_value = MinOtherLbValue(zone, m, now_ms);
  }
  return BusyNow(m) ? Health::kBusy : Health::kOk;
}

// Collects transitions into the caller's array, dropping those that do not fit.
struct TransitionList {
  Transition* out;
  std::size_t capacity;
  std::size_t count = 0;
  void Change(Zone& zone, std::size_t i, HealthCause cause, std::uint64_t now_ms) {
    Transition t;
    if (ChangeHealth(zone, i, cause, now_ms, &t) && out != nullptr && count < capacity)
      out[count++] = t;
  }
};

// mod_jk's decay_load(): halve per elapsed interval; Next subtracts the
// lowest value among usable members instead (round robin of new sessions);
// Busyness counts requests in flight and is never decayed. The reply
// timeout counters are halved like the load (mod_jk shifts them together).
void DecayLoad(Zone& zone, std::uint64_t intervals, std::uint64_t now_ms) {
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    MemberState& m = zone.record(i);
    m.reply_timeouts = intervals >= 32 ? 0 : m.reply_timeouts >> intervals;
  }
  const Method method = zone.GetMethod();
  if (method == Method::kBusyness) return;
  if (method == Method::kNext) {
    bool any = false;
    std::uint64_t min = kMax;
    for (std::size_t i = 0; i < zone.member_count; ++i) {
      const MemberState& m = zone.record(i);
      if (m.GetActivation() != Activation::kActive || !MemberUsable(zone, m, now_ms)) continue;
      any = true;
      min = std::min(min, m.lb_value);
    }
    if (!any) return;
    for (std::size_t i = 0; i < zone.member_count; ++i) {
      MemberState& m = zone.record(i);
      m.lb_value = m.lb_value > min ? m.lb_value - min : 0;
    }
    return;
  }
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    MemberState& m = zone.record(i);
    m.lb_value = intervals >= 64 ? 0 : m.lb_value >> intervals;
  }
}

}  // namespace

const char* HealthName(Health health) noexcept {
  switch (health) {
    case Health::kOkIdle: return "OK/IDLE";
    case Health::kOk: return "OK";
    case Health::kRecovering: return "ERR/REC";
    case Health::kForcedRecovery: return "ERR/FRC";
    case Health::kBusy: return "OK/BUSY";
    case Health::kError: return "ERR";
    case Health::kProbing: return "ERR/PRB";
  }
  return "UNKNOWN";
}

const char* HealthCauseName(HealthCause cause) noexcept {
  switch (cause) {
    case HealthCause::kRequestSucceeded: return "request succeeded";
    case HealthCause::kConnectFailed: return "connect failed";
    case HealthCause::kReadFailed: return "read failed";
    case HealthCause::kRecoverTimer: return "recover time passed";
    case HealthCause::kForcedRecovery: return "forced recovery";
    case HealthCause::kIdle: return "idle";
    case HealthCause::kReplyTimeout: return "reply timeouts above max_reply_timeouts";
    case HealthCause::kFailOnStatus: return "status in fail_on_status";
    case HealthCause::kLocalErrorEscalated: return "local error lasted error_escalation_time";
    case HealthCause::kBusy: return "busy_limit reached";
    case HealthCause::kNotBusy: return "below busy_limit";
    case HealthCause::kProbeRequest: return "a request tests it";
    case HealthCause::kProbeSent: return "probe sent";
    case HealthCause::kProbePassed: return "probe passed";
    case HealthCause::kProbeFailed: return "probe failed";
    case HealthCause::kProbeLost: return "probe ended without a verdict";
    case HealthCause::kHealthProbeFailed: return "probe_fails probes failed";
    case HealthCause::kAdminReset: return "reset by an administrator";
  }
  return "unknown";
}

bool HealthUsable(Health health) noexcept {
  return health == Health::kOkIdle || health == Health::kOk || health == Health::kRecovering ||
         health == Health::kForcedRecovery;
}

bool IsErrorFamily(Health health) noexcept {
  return health == Health::kError || health == Health::kRecovering ||
         health == Health::kProbing || health == Health::kForcedRecovery;
}

StatusVerdict ClassifyStatus(const int* fail_on_status, std::size_t count, int status) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    if (fail_on_status[i] == status) return StatusVerdict::kFailMember;
    if (fail_on_status[i] == -status) return StatusVerdict::kFailRequest;
  }
  return StatusVerdict::kPass;
}

bool MemberUsable(const Zone& zone, const MemberState& member, std::uint64_t now_ms) noexcept {
  const Health h = EffectiveHealth(member, now_ms);
  if (h == Health::kRecovering && zone.active_probes) return false;
  return HealthUsable(h);
}

// ScaledMult() of a member that may be in slow start.
std::uint64_t SlowStartMult(const Zone& zone, const MemberState& member,
                            std::uint64_t now_ms) noexcept {
  const std::uint64_t full = member.lb_mult * kMultScale;  // lb_mult <= 2^24: no overflow
  const std::uint64_t ramp = zone.slow_start_ms;
  if (ramp == 0 || member.recovered_at_ms == 0 || now_ms < member.recovered_at_ms) return full;
  const std::uint64_t elapsed = now_ms - member.recovered_at_ms;
  if (elapsed >= ramp) return full;
  // Share ∝ 1 / load per attempt = weight × elapsed / slow_start: linear.
  const std::uint64_t floor = std::max<std::uint64_t>(1, ramp / kSlowStartMaxFactor);
  const unsigned __int128 scaled =
      static_cast<unsigned __int128>(full) * ramp / std::max(elapsed, floor);
  return static_cast<std::uint64_t>(
      std::min<unsigned __int128>(scaled, full * kSlowStartMaxFactor));
}

bool ChangeHealth(Zone& zone, std::size_t index, HealthCause cause, std::uint64_t now_ms,
                  Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  const Health from = m.GetHealth();
  Health to = from;
  switch (cause) {
    case HealthCause::kRequestSucceeded:
      // Only an attempt made as a test ends an error; a request that started
      // before the failure and succeeds later proves nothing newer.
      if (from == Health::kError || from == Health::kRecovering) break;
      if (from == Health::kProbing) {
        if (m.probe_kind != static_cast<std::uint8_t>(ProbeKind::kRequest)) break;
        ClearClaim(m);
      }
      to = LeaveError(zone, m, from, now_ms);
      break;
    case HealthCause::kConnectFailed:
    case HealthCause::kReadFailed:
      if (OkFamily(from) && StaysLocal(zone, m, now_ms)) {
        if (m.first_error_ms == 0) m.first_error_ms = now_ms;
        break;
      }
      to = EnterError(zone, m, now_ms);
      break;
    case HealthCause::kReplyTimeout:
      if (m.reply_timeouts <= zone.max_reply_timeouts) break;  // local: only this request
      to = EnterError(zone, m, now_ms);
      break;
    case HealthCause::kFailOnStatus:
      to = EnterError(zone, m, now_ms);
      break;
    case HealthCause::kLocalErrorEscalated:
      if (!OkFamily(from) || m.first_error_ms == 0 || zone.error_escalation_ms == 0 ||
          now_ms - m.first_error_ms < zone.error_escalation_ms)
        break;
      to = EnterError(zone, m, now_ms);
      break;
    case HealthCause::kRecoverTimer:
      if (!RecoverDue(m, now_ms)) break;
      to = Health::kRecovering;
      // mod_jk: a recovering member starts at the highest load, so that it is
      // not flooded with every new session at once.
      if (zone.GetMethod() != Method::kBusyness) m.lb_value = MaxLbValue(zone);
      break;
    case HealthCause::kForcedRecovery:
      if (from == Health::kError || (from == Health::kRecovering && zone.active_probes))
        to = Health::kForcedRecovery;
      break;
    case HealthCause::kIdle:
      if (from == Health::kOk) to = Health::kOkIdle;
      break;
    case HealthCause::kBusy:
      if ((from == Health::kOk || from == Health::kOkIdle) && BusyNow(m)) to = Health::kBusy;
      break;
    case HealthCause::kNotBusy:
      if (from == Health::kBusy && !BusyNow(m)) to = Health::kOk;
      break;
    case HealthCause::kProbeRequest:
      if (EffectiveHealth(m, now_ms) != Health::kRecovering || zone.active_probes) break;
      if (from == Health::kError && zone.GetMethod() != Method::kBusyness)
        m.lb_value = MaxLbValue(zone);  // as if a tick had moved it to ERR/REC first
      m.probe_kind = static_cast<std::uint8_t>(ProbeKind::kRequest);
      m.probe_owner = 0;
      m.probe_deadline_ms =
          SaturatingAdd(now_ms, std::max(zone.recover_time_ms, kRequestProbeHoldMs));
      to = Health::kProbing;
      break;
    case HealthCause::kProbeSent:
      if (from == Health::kRecovering) to = Health::kProbing;
      break;
    case HealthCause::kProbePassed:
      if (from != Health::kProbing) break;
      ClearClaim(m);
      to = m.probe_passes >= std::max<std::uint32_t>(zone.probe_passes, 1)
               ? LeaveError(zone, m, from, now_ms)
               : Health::kRecovering;
      if (to != Health::kRecovering) m.probe_passes = 0;
      break;
    case HealthCause::kProbeFailed:
      if (from != Health::kProbing) break;
      ClearClaim(m);
      to = EnterError(zone, m, now_ms);
      break;
    case HealthCause::kProbeLost:
      if (from != Health::kProbing) break;
      ClearClaim(m);
      to = Health::kRecovering;
      break;
    case HealthCause::kHealthProbeFailed:
      if (OkFamily(from)) to = EnterError(zone, m, now_ms);
      break;
    case HealthCause::kAdminReset:
      ClearClaim(m);
      m.first_error_ms = m.last_error_ms = m.recover_at_ms = m.recovered_at_ms = 0;
      m.reply_timeouts = 0;
      m.probe_passes = m.probe_fails = 0;
      to = Health::kOkIdle;
      break;
  }
  if (to == from) return false;
  m.health = static_cast<std::uint8_t>(to);
  if (transition != nullptr)
    *transition = Transition{static_cast<std::uint32_t>(index), from, to, cause};
  return true;
}

std::size_t Maintain(Zone& zone, std::uint64_t now_ms, unsigned maintain_seconds,
                     Transition* out, std::size_t capacity) noexcept {
  TransitionList list{out, capacity};
  // Every call: claims, escalation and recover timers, so that a finer tick
  // than worker.maintain notices them sooner.
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    MemberState& m = zone.record(i);
    if (m.probe_kind != static_cast<std::uint8_t>(ProbeKind::kNone) &&
        now_ms >= m.probe_deadline_ms) {
      if (m.GetHealth() == Health::kProbing)
        list.Change(zone, i, HealthCause::kProbeLost, now_ms);
      else
        ClearClaim(m);
    }
    list.Change(zone, i, HealthCause::kLocalErrorEscalated, now_ms);
    list.Change(zone, i, HealthCause::kRecoverTimer, now_ms);
    if (m.recovered_at_ms != 0 && now_ms - m.recovered_at_ms >= zone.slow_start_ms)
      m.recovered_at_ms = 0;  // slow start is over
    const std::uint64_t in_flight = AtomicLoad(m.in_flight);
    if (in_flight > 0) CountInFlight(zone.activity(i), in_flight, now_ms);
  }
  if (zone.sessions_recorded != MinuteStamp(now_ms)) {
    zone.sessions_recorded = MinuteStamp(now_ms);
    for (std::size_t i = 0; i < zone.member_count; ++i)
      RecordPastSessions(zone.activity(i), zone.session_sketches, now_ms);
  }
  const std::uint64_t interval = std::uint64_t{maintain_seconds} * 1000;
  if (interval > 0 && now_ms >= zone.last_maintenance_ms &&
      now_ms - zone.last_maintenance_ms >= interval) {
    const std::uint64_t intervals = (now_ms - zone.last_maintenance_ms) / interval;
    // Advance by whole intervals so that ticks arriving a little late do not
    // stretch the cadence (mod_jk restarts it at "now").
    zone.last_maintenance_ms += intervals * interval;
    DecayLoad(zone, intervals, now_ms);
    for (std::size_t i = 0; i < zone.member_count; ++i) {
      MemberState& m = zone.record(i);
      if (m.requests == m.requests_at_maintenance) list.Change(zone, i, HealthCause::kIdle, now_ms);
      m.requests_at_maintenance = m.requests;
    }
  }
  return list.count;
}

std::size_t ForceRecovery(Zone& zone, std::uint64_t now_ms, Transition* out,
                          std::size_t capacity) noexcept {
  TransitionList list{out, capacity};
  for (std::size_t i = 0; i < zone.member_count; ++i)
    list.Change(zone, i, HealthCause::kForcedRecovery, now_ms);
  return list.count;
}

}  // namespace sticky
