#include "balancer/state.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <vector>

#include "balancer/counters.h"
#include "status/status_window.h"

namespace sticky {
namespace {

// Above this LCM the multipliers are rounded (RecomputeMultipliers).
constexpr std::uint64_t kMaxLcm = std::uint64_t{1} << 24;

std::uint32_t ConfiguredLbfactor(const Member& m) {
  return m.lbfactor < 1 ? 1u : static_cast<std::uint32_t>(m.lbfactor);
}

// mod_jk forces a member whose port is 0 (unresolvable host) to Stopped.
Activation ConfiguredActivation(const Member& m) {
  return m.port <= 0 ? Activation::kStopped : m.activation;
}

void SetRecoveryPolicy(Zone& zone, const Balancer& b, const HealthOptions& o) {
  zone.error_escalation_ms =
      static_cast<std::uint64_t>(std::max(b.error_escalation_time, 0)) * 1000;
  zone.max_reply_timeouts = static_cast<std::uint32_t>(std::max(b.max_reply_timeouts, 0));
  zone.slow_start_ms = o.slow_start_ms;
  zone.active_probes = o.active_probes ? 1 : 0;
  zone.probe_interval_ms = std::max<std::uint64_t>(o.probe_interval_ms, 1);
  zone.probe_timeout_ms = std::max<std::uint64_t>(o.probe_timeout_ms, 1);
  zone.probe_passes = std::max<std::uint32_t>(o.probe_passes, 1);
  zone.probe_fails = o.probe_fails;
}

// Adds `scaled` (in 1/kMultScale) to the load; what is below one unit is
// carried to the next attempt, so a slow start ramps smoothly even when
// lb_mult is 1.
void AddLoad(MemberState& m, std::uint64_t scaled) {
  const std::uint64_t total = SaturatingAdd(scaled, m.load_carry);
  m.lb_value = SaturatingAdd(m.lb_value, total / kMultScale);
  m.load_carry = static_cast<std::uint32_t>(total % kMultScale);
}

// An attempt's end that changes no health: a success on an OK member below
// its busy_limit (with `in_flight` attempts left on it).
bool EndsWithoutChange(const MemberState& m, Outcome outcome, std::uint64_t in_flight) {
  return outcome == Outcome::kSuccess && m.GetHealth() == Health::kOk && !BusyWith(m, in_flight);
}

bool Overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  auto pa = reinterpret_cast<std::uintptr_t>(a);
  auto pb = reinterpret_cast<std::uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

}  // namespace

Zone* InitZone(void* memory, std::size_t bytes, const Balancer& balancer,
               std::uint64_t now_ms, const HealthOptions* options,
               std::size_t processes) noexcept {
  const std::size_t n = balancer.members.size();
  const HealthOptions defaults;
  const HealthOptions& o = options != nullptr ? *options : defaults;
  const std::uint32_t window = std::min(o.sessions_window_minutes, kMaxSessionsWindowMinutes);
  if (memory == nullptr || reinterpret_cast<std::uintptr_t>(memory) % alignof(MemberState) != 0 ||
      n > std::numeric_limits<std::uint32_t>::max() || processes > kMaxProcessSlots ||
      bytes < ZoneBytes(n, processes, window))
    return nullptr;
  for (const Member& m : balancer.members)
    if (m.name.size() > kMaxNameBytes) return nullptr;

  Zone* zone = new (memory) Zone{};
  zone->magic = kZoneMagic;
  zone->layout_version = kZoneLayoutVersion;
  zone->member_count = static_cast<std::uint32_t>(n);
  zone->record_size = sizeof(MemberState);
  zone->process_capacity = static_cast<std::uint32_t>(processes);
  zone->session_sketches = static_cast<std::uint32_t>(SketchesFor(window));
  zone->method = static_cast<std::uint8_t>(balancer.method);
  zone->recover_time_ms = static_cast<std::uint64_t>(std::max(balancer.recover_time, 1)) * 1000;
  zone->last_maintenance_ms = now_ms;
  SetRecoveryPolicy(*zone, balancer, o);
  for (std::size_t i = 0; i < n; ++i) {
    const Member& m = balancer.members[i];
    MemberState* r = new (zone->records() + i) MemberState{};
    std::memcpy(r->name, m.name.data(), m.name.size());
    r->name_length = static_cast<std::uint32_t>(m.name.size());
    r->activation = r->configured_activation = static_cast<std::uint8_t>(ConfiguredActivation(m));
    r->lbfactor = r->configured_lbfactor = ConfiguredLbfactor(m);
    r->health = static_cast<std::uint8_t>(Health::kOkIdle);
    r->busy_limit = m.busy_limit > 0 ? static_cast<std::uint32_t>(m.busy_limit) : 0;
  }
  std::memset(static_cast<void*>(zone->slots()), 0, ProcessTableBytes(n, processes));
  for (std::size_t i = 0; i < n; ++i) ClearActivity(zone->activity(i), zone->session_sketches);
  RecomputeMultipliers(*zone);
  return zone;
}

const Zone* ValidZone(const void* memory, std::size_t bytes) noexcept {
  if (memory == nullptr || bytes < sizeof(Zone) ||
      reinterpret_cast<std::uintptr_t>(memory) % alignof(MemberState) != 0)
    return nullptr;
  const Zone* zone = static_cast<const Zone*>(memory);
  if (zone->magic != kZoneMagic || zone->layout_version != kZoneLayoutVersion ||
      zone->record_size != sizeof(MemberState) || zone->process_capacity > kMaxProcessSlots ||
      zone->member_count > (bytes - sizeof(Zone)) / sizeof(MemberState) ||
      zone->session_sketches > SketchesFor(kMaxSessionsWindowMinutes) ||
      bytes < ZoneBytes(zone->member_count, zone->process_capacity,
                        zone->SessionsWindowMinutes()))
    return nullptr;
  return zone;
}

Zone* ReconcileZone(void* memory, std::size_t bytes, const Balancer& balancer,
                    const void* old_memory, std::size_t old_bytes, std::uint64_t now_ms,
                    ReconcileStats* stats, const HealthOptions* options,
                    std::size_t processes) {
  ReconcileStats local;
  ReconcileStats& s = stats != nullptr ? *stats : local;
  s = ReconcileStats{};
  const Zone* old = ValidZone(old_memory, old_bytes);
  if (old == nullptr) {
    s.fresh = true;
    s.added = balancer.members.size();
    return InitZone(memory, bytes, balancer, now_ms, options, processes);
  }
  // The new zone may be written over the old one: work from a copy then.
  std::vector<std::uint64_t> copy;
  const std::size_t old_size =
      ZoneBytes(old->member_count, old->process_capacity, old->SessionsWindowMinutes());
  if (Overlaps(memory, bytes, old, old_size)) {
    copy.resize((old_size + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
    std::memcpy(copy.data(), old, old_size);
    old = reinterpret_cast<const Zone*>(copy.data());
  }

  Zone* zone = InitZone(memory, bytes, balancer, now_ms, options, processes);
  if (zone == nullptr) return nullptr;
  zone->last_maintenance_ms = old->last_maintenance_ms;  // keep the decay cadence
  zone->rotation = old->rotation;
  zone->sessions_recorded = old->sessions_recorded;
  const bool method_changed = old->method != zone->method;

  std::vector<bool> matched(old->member_count, false);
  for (std::size_t i = 0; i < zone->member_count; ++i) {
    MemberState& fresh = zone->record(i);
    const int j = FindRecord(*old, fresh.Name());
    if (j < 0 || matched[j]) {
      ++s.added;
      continue;
    }
    matched[j] = true;
    ++s.kept;
    const MemberState& before = old->record(j);
    MemberState kept = before;
    // The file wins where it changed; a runtime edit survives otherwise.
    if (fresh.configured_activation != before.configured_activation)
      kept.activation = fresh.configured_activation;
    if (fresh.configured_lbfactor != before.configured_lbfactor) kept.lbfactor = fresh.lbfactor;
    kept.configured_activation = fresh.configured_activation;
    kept.configured_lbfactor = fresh.configured_lbfactor;
    kept.in_flight = 0;
    kept.busy_limit = fresh.busy_limit;
    // Probes and busy counts of the old configuration end against its records.
    if (kept.GetHealth() == Health::kBusy) kept.health = static_cast<std::uint8_t>(Health::kOk);
    if (kept.GetHealth() == Health::kProbing)
      kept.health = static_cast<std::uint8_t>(Health::kRecovering);
    kept.probe_kind = static_cast<std::uint8_t>(ProbeKind::kNone);
    kept.probe_owner = 0;
    kept.probe_deadline_ms = 0;
    kept.next_probe_ms = 0;
    // Load values of another method mean nothing; Busyness is in_flight × mult.
    if (method_changed || zone->GetMethod() == Method::kBusyness) kept.lb_value = 0;
    fresh = kept;
    // History always; the sketches when they are of the same window.
    const std::size_t sketches = old->session_sketches == zone->session_sketches
                                     ? zone->session_sketches
                                     : 0;
    std::memcpy(static_cast<void*>(&zone->activity(i)), &old->activity(j),
                ActivityBytes(sketches));
  }
  s.removed = static_cast<std::size_t>(std::count(matched.begin(), matched.end(), false));
  RecomputeMultipliers(*zone);
  return zone;
}

int FindRecord(const Zone& zone, std::string_view name) noexcept {
  for (std::size_t i = 0; i < zone.member_count; ++i)
    if (zone.record(i).Name() == name) return static_cast<int>(i);
  return -1;
}

void RecomputeMultipliers(Zone& zone) noexcept {
  std::uint64_t lcm = 1;
  bool rounded = false;
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    const std::uint64_t f = std::max<std::uint32_t>(zone.record(i).lbfactor, 1);
    lcm = lcm / std::gcd(lcm, f) * f;  // lcm <= 2^24 and f < 2^32: no overflow
    if (lcm > kMaxLcm) {
      rounded = true;
      break;
    }
  }
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    MemberState& m = zone.record(i);
    const std::uint64_t f = std::max<std::uint32_t>(m.lbfactor, 1);
    m.lb_mult = rounded ? std::max<std::uint64_t>(1, (kMaxLcm + f / 2) / f) : lcm / f;
  }
}

bool ReportStart(Zone& zone, std::size_t index, AttemptKind kind, std::uint64_t now_ms,
                 Transition* transition, std::size_t process) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  ++zone.rotation;
  ++m.requests;
  const bool owned = process < zone.process_capacity && zone.slots()[process].pid != 0 &&
                     zone.held(process)[index] < std::numeric_limits<std::uint32_t>::max();
  if (owned) ++zone.held(process)[index];
  const std::uint64_t in_flight = AtomicIncrement(m.in_flight);
  CountStart(zone.activity(index), zone.session_sketches,
             StartedAttempt{kind.sticky_hit, kind.new_session, kind.session_hash, in_flight},
             now_ms);
  if (kind.sticky_hit) ++m.sticky_hits;
  // status page: the drain view's activity
  m.last_request_ms = now_ms;
  if (kind.sticky_hit) CountStickyHit(m, now_ms);
  if (kind.new_session) ++m.new_sessions;
  // A recovering member picked for a request: that request is its probe
  // (mod_jk's ERR/REC -> ERR/PRB), and others avoid it until it ends.
  // kBusy changes nothing unless busy_limit is reached: most attempts do
  // not ask.
  bool changed = false;
  if (EffectiveHealth(m, now_ms) == Health::kRecovering)
    changed = ChangeHealth(zone, index, HealthCause::kProbeRequest, now_ms, transition);
  else if (BusyNow(m))
    changed = ChangeHealth(zone, index, HealthCause::kBusy, now_ms, transition);
  if (owned && m.probe_kind == static_cast<std::uint8_t>(ProbeKind::kRequest) &&
      m.probe_owner == 0)
    m.probe_owner = zone.slots()[process].pid;  // returned if that process dies
  const std::uint64_t mult = ScaledMult(zone, m, now_ms);
  switch (zone.GetMethod()) {
    case Method::kRequest:
      AddLoad(m, mult);
      break;
    case Method::kSession:
    case Method::kNext:
      if (kind.new_session) AddLoad(m, mult);
      break;
    case Method::kBusyness:
      // Derived from the in-flight count rather than added to and taken away,
      // so it cannot drift (mod_jk bug 44454).
      m.lb_value = SaturatingMul(in_flight, mult) / kMultScale;
      break;
    case Method::kTraffic:
      break;  // counted when the bytes are known, in FinishEnd()
  }
  return changed;
}

bool EndAttempt(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
                std::uint64_t bytes_received, std::size_t process) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  // An attempt of a slot that was released (its process judged dead) was
  // already taken off the total then. A slot's counts change only in its
  // own process, or in another one's under the lock once it is dead.
  std::uint64_t in_flight;
  if (process < zone.process_capacity) {
    std::uint32_t& held = zone.held(process)[index];
    if (held > 0) {
      --held;
      in_flight = AtomicSubtractFloor(m.in_flight, 1);
    } else {
      in_flight = AtomicLoad(m.in_flight);
    }
  } else {
    in_flight = AtomicSubtractFloor(m.in_flight, 1);
  }
  AtomicSaturatingAdd(m.bytes_sent, bytes_sent);
  AtomicSaturatingAdd(m.bytes_received, bytes_received);

  // The usual end, complete now: a success on an OK member below its
  // busy_limit, with no error to forget, whose method counted its load at
  // the start. These fields are read without the lock: when a process
  // holding it changes them meanwhile, this end counts as if it had come
  // just before that change.
  const Method method = zone.GetMethod();
  const bool load_at_start =
      method == Method::kRequest || method == Method::kSession || method == Method::kNext;
  return !(load_at_start && EndsWithoutChange(m, outcome, in_flight) && m.first_error_ms == 0 &&
           m.last_error_ms == 0 && m.recover_at_ms == 0);
}

bool FinishEnd(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
               std::uint64_t bytes_received, std::uint64_t now_ms,
               Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  const std::uint64_t mult = ScaledMult(zone, m, now_ms);
  if (zone.GetMethod() == Method::kTraffic)
    AddLoad(m, SaturatingMul(SaturatingAdd(bytes_sent, bytes_received), mult));
  else if (zone.GetMethod() == Method::kBusyness)
    m.lb_value = SaturatingMul(AtomicLoad(m.in_flight), mult) / kMultScale;

  HealthCause cause = HealthCause::kRequestSucceeded;
  switch (outcome) {
    case Outcome::kSuccess:
      break;
    case Outcome::kConnectFailed:
      cause = HealthCause::kConnectFailed;
      break;
    case Outcome::kReadFailed:
      cause = HealthCause::kReadFailed;
      break;
    case Outcome::kReplyTimeout:
      if (m.reply_timeouts < std::numeric_limits<std::uint32_t>::max()) ++m.reply_timeouts;
      cause = HealthCause::kReplyTimeout;
      break;
    case Outcome::kFailOnStatus:
      cause = HealthCause::kFailOnStatus;
      break;
    case Outcome::kNeutral:
      break;
  }
  if (outcome != Outcome::kSuccess && outcome != Outcome::kNeutral) {
    ++m.errors;
    CountError(zone.activity(index), now_ms);
  }
  // A success on an OK member below its busy_limit only forgets a local
  // error (what ChangeHealth() would do, without a change of health, and
  // the kNotBusy step below would change nothing either).
  if (EndsWithoutChange(m, outcome, AtomicLoad(m.in_flight))) {
    m.first_error_ms = m.last_error_ms = m.recover_at_ms = 0;
    return false;
  }
  if (outcome != Outcome::kNeutral && ChangeHealth(zone, index, cause, now_ms, transition))
    return true;
  // No verdict from the outcome: a request probe hands the member back to
  // ERR/REC (the next request tests it); a busy member may have room again.
  if (m.GetHealth() == Health::kProbing &&
      m.probe_kind == static_cast<std::uint8_t>(ProbeKind::kRequest))
    return ChangeHealth(zone, index, HealthCause::kProbeLost, now_ms, transition);
  return ChangeHealth(zone, index, HealthCause::kNotBusy, now_ms, transition);
}

bool ReportEnd(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
               std::uint64_t bytes_received, std::uint64_t now_ms, Transition* transition,
               std::size_t process) noexcept {
  return EndAttempt(zone, index, outcome, bytes_sent, bytes_received, process) &&
         FinishEnd(zone, index, outcome, bytes_sent, bytes_received, now_ms, transition);
}

}  // namespace sticky
