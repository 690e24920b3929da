#include "state.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <vector>

namespace sticky {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
// Above this LCM the multipliers are rounded (RecomputeMultipliers).
constexpr std::uint64_t kMaxLcm = std::uint64_t{1} << 24;

std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) { return a > kMax - b ? kMax : a + b; }

std::uint64_t SaturatingMul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kMax / a) return kMax;
  return a * b;
}

std::uint32_t ConfiguredLbfactor(const Member& m) {
  return m.lbfactor < 1 ? 1u : static_cast<std::uint32_t>(m.lbfactor);
}

// mod_jk forces a member whose port is 0 (unresolvable host) to Stopped.
Activation ConfiguredActivation(const Member& m) {
  return m.port <= 0 ? Activation::kStopped : m.activation;
}

std::uint64_t MaxLbValue(const Zone& zone) {
  std::uint64_t max = 0;
  for (std::size_t i = 0; i < zone.member_count; ++i) max = std::max(max, zone.record(i).lb_value);
  return max;
}

bool Overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  auto pa = reinterpret_cast<std::uintptr_t>(a);
  auto pb = reinterpret_cast<std::uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
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
// Busyness counts requests in flight and is never decayed.
void DecayLoad(Zone& zone, std::uint64_t intervals, std::uint64_t now_ms) {
  const Method method = zone.GetMethod();
  if (method == Method::kBusyness) return;
  if (method == Method::kNext) {
    bool any = false;
    std::uint64_t min = kMax;
    for (std::size_t i = 0; i < zone.member_count; ++i) {
      const MemberState& m = zone.record(i);
      if (m.GetActivation() != Activation::kActive || !HealthUsable(EffectiveHealth(m, now_ms)))
        continue;
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
  }
  return "unknown";
}

Zone* InitZone(void* memory, std::size_t bytes, const Balancer& balancer,
               std::uint64_t now_ms) noexcept {
  const std::size_t n = balancer.members.size();
  if (memory == nullptr || reinterpret_cast<std::uintptr_t>(memory) % alignof(MemberState) != 0 ||
      n > std::numeric_limits<std::uint32_t>::max() || bytes < ZoneBytes(n))
    return nullptr;
  for (const Member& m : balancer.members)
    if (m.name.size() > kMaxNameBytes) return nullptr;

  Zone* zone = new (memory) Zone{};
  zone->magic = kZoneMagic;
  zone->layout_version = kZoneLayoutVersion;
  zone->member_count = static_cast<std::uint32_t>(n);
  zone->record_size = sizeof(MemberState);
  zone->method = static_cast<std::uint8_t>(balancer.method);
  zone->recover_time_ms = static_cast<std::uint64_t>(std::max(balancer.recover_time, 1)) * 1000;
  zone->last_maintenance_ms = now_ms;
  for (std::size_t i = 0; i < n; ++i) {
    const Member& m = balancer.members[i];
    MemberState* r = new (zone->records() + i) MemberState{};
    std::memcpy(r->name, m.name.data(), m.name.size());
    r->name_length = static_cast<std::uint32_t>(m.name.size());
    r->activation = r->configured_activation = static_cast<std::uint8_t>(ConfiguredActivation(m));
    r->lbfactor = r->configured_lbfactor = ConfiguredLbfactor(m);
    r->health = static_cast<std::uint8_t>(Health::kOkIdle);
  }
  RecomputeMultipliers(*zone);
  return zone;
}

const Zone* ValidZone(const void* memory, std::size_t bytes) noexcept {
  if (memory == nullptr || bytes < sizeof(Zone) ||
      reinterpret_cast<std::uintptr_t>(memory) % alignof(MemberState) != 0)
    return nullptr;
  const Zone* zone = static_cast<const Zone*>(memory);
  if (zone->magic != kZoneMagic || zone->layout_version != kZoneLayoutVersion ||
      zone->record_size != sizeof(MemberState) ||
      zone->member_count > (bytes - sizeof(Zone)) / sizeof(MemberState))
    return nullptr;
  return zone;
}

Zone* ReconcileZone(void* memory, std::size_t bytes, const Balancer& balancer,
                    const void* old_memory, std::size_t old_bytes, std::uint64_t now_ms,
                    ReconcileStats* stats) {
  ReconcileStats local;
  ReconcileStats& s = stats != nullptr ? *stats : local;
  s = ReconcileStats{};
  const Zone* old = ValidZone(old_memory, old_bytes);
  if (old == nullptr) {
    s.fresh = true;
    s.added = balancer.members.size();
    return InitZone(memory, bytes, balancer, now_ms);
  }
  // The new zone may be written over the old one: work from a copy then.
  std::vector<std::uint64_t> copy;
  const std::size_t old_size = ZoneBytes(old->member_count);
  if (Overlaps(memory, bytes, old, old_size)) {
    copy.resize((old_size + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
    std::memcpy(copy.data(), old, old_size);
    old = reinterpret_cast<const Zone*>(copy.data());
  }

  Zone* zone = InitZone(memory, bytes, balancer, now_ms);
  if (zone == nullptr) return nullptr;
  zone->last_maintenance_ms = old->last_maintenance_ms;  // keep the decay cadence
  zone->rotation = old->rotation;
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
    // Load values of another method mean nothing; Busyness is in_flight × mult.
    if (method_changed || zone->GetMethod() == Method::kBusyness) kept.lb_value = 0;
    fresh = kept;
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

bool HealthUsable(Health health) noexcept {
  return health == Health::kOkIdle || health == Health::kOk || health == Health::kRecovering ||
         health == Health::kForcedRecovery;
}

bool RecoverDue(const MemberState& member, std::uint64_t now_ms) noexcept {
  return member.GetHealth() == Health::kError && now_ms >= member.recover_at_ms;
}

Health EffectiveHealth(const MemberState& member, std::uint64_t now_ms) noexcept {
  return RecoverDue(member, now_ms) ? Health::kRecovering : member.GetHealth();
}

bool ChangeHealth(Zone& zone, std::size_t index, HealthCause cause, std::uint64_t now_ms,
                  Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  const Health from = m.GetHealth();
  Health to = from;
  switch (cause) {
    case HealthCause::kRequestSucceeded:
      to = Health::kOk;
      m.first_error_ms = m.last_error_ms = m.recover_at_ms = 0;
      break;
    case HealthCause::kConnectFailed:
    case HealthCause::kReadFailed:
      to = Health::kError;
      if (m.first_error_ms == 0) m.first_error_ms = now_ms;
      m.last_error_ms = now_ms;
      m.recover_at_ms = SaturatingAdd(now_ms, zone.recover_time_ms);
      break;
    case HealthCause::kRecoverTimer:
      if (!RecoverDue(m, now_ms)) break;
      to = Health::kRecovering;
      // mod_jk: a recovering member starts at the highest load, so that it is
      // not flooded with every new session at once.
      if (zone.GetMethod() != Method::kBusyness) m.lb_value = MaxLbValue(zone);
      break;
    case HealthCause::kForcedRecovery:
      if (from == Health::kError) to = Health::kForcedRecovery;
      break;
    case HealthCause::kIdle:
      if (from == Health::kOk) to = Health::kOkIdle;
      break;
  }
  if (to == from) return false;
  m.health = static_cast<std::uint8_t>(to);
  if (transition != nullptr)
    *transition = Transition{static_cast<std::uint32_t>(index), from, to, cause};
  return true;
}

bool ReportStart(Zone& zone, std::size_t index, AttemptKind kind, std::uint64_t now_ms,
                 Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  ++zone.rotation;
  ++m.requests;
  ++m.in_flight;
  if (kind.sticky_hit) ++m.sticky_hits;
  if (kind.new_session) ++m.new_sessions;
  const bool changed = ChangeHealth(zone, index, HealthCause::kRecoverTimer, now_ms, transition);
  switch (zone.GetMethod()) {
    case Method::kRequest:
      m.lb_value = SaturatingAdd(m.lb_value, m.lb_mult);
      break;
    case Method::kSession:
    case Method::kNext:
      if (kind.new_session) m.lb_value = SaturatingAdd(m.lb_value, m.lb_mult);
      break;
    case Method::kBusyness:
      // Derived from the in-flight count rather than added to and taken away,
      // so it cannot drift (mod_jk bug 44454).
      m.lb_value = SaturatingMul(m.in_flight, m.lb_mult);
      break;
    case Method::kTraffic:
      break;  // counted when the bytes are known, in ReportEnd()
  }
  return changed;
}

bool ReportEnd(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
               std::uint64_t bytes_received, std::uint64_t now_ms,
               Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  if (m.in_flight > 0) --m.in_flight;
  m.bytes_sent = SaturatingAdd(m.bytes_sent, bytes_sent);
  m.bytes_received = SaturatingAdd(m.bytes_received, bytes_received);
  if (zone.GetMethod() == Method::kTraffic)
    m.lb_value = SaturatingAdd(
        m.lb_value, SaturatingMul(SaturatingAdd(bytes_sent, bytes_received), m.lb_mult));
  else if (zone.GetMethod() == Method::kBusyness)
    m.lb_value = SaturatingMul(m.in_flight, m.lb_mult);

  switch (outcome) {
    case Outcome::kSuccess:
      return ChangeHealth(zone, index, HealthCause::kRequestSucceeded, now_ms, transition);
    case Outcome::kConnectFailed:
      ++m.errors;
      return ChangeHealth(zone, index, HealthCause::kConnectFailed, now_ms, transition);
    case Outcome::kReadFailed:
      ++m.errors;
      return ChangeHealth(zone, index, HealthCause::kReadFailed, now_ms, transition);
    case Outcome::kNeutral:
      break;
  }
  return false;
}

std::size_t Maintain(Zone& zone, std::uint64_t now_ms, unsigned maintain_seconds,
                     Transition* out, std::size_t capacity) noexcept {
  TransitionList list{out, capacity};
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
  for (std::size_t i = 0; i < zone.member_count; ++i)
    list.Change(zone, i, HealthCause::kRecoverTimer, now_ms);
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
