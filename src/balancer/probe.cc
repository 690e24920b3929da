#include "balancer/probe.h"

#include <limits>

namespace sticky {
namespace {

// A probe's process reports its verdict by probe_timeout; after this much
// more its claim is void.
constexpr std::uint64_t kClaimGraceMs = 1000;

bool ProbedWhenHealthy(Health h) {
  return h == Health::kOkIdle || h == Health::kOk || h == Health::kBusy;
}

template <typename T>
void Increment(T& counter) {
  if (counter < std::numeric_limits<T>::max()) ++counter;
}

}  // namespace

std::size_t ClaimProbes(Zone& zone, std::uint64_t now_ms, std::uint32_t owner, ProbeClaim* out,
                        std::size_t capacity) noexcept {
  if (!zone.active_probes || owner == 0) return 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < zone.member_count && count < capacity; ++i) {
    MemberState& m = zone.record(i);
    const Health h = m.GetHealth();
    const bool recovering = h == Health::kRecovering;
    if (m.GetActivation() == Activation::kStopped ||
        m.probe_kind != static_cast<std::uint8_t>(ProbeKind::kNone) || now_ms < m.next_probe_ms ||
        !(recovering || (zone.probe_fails > 0 && ProbedWhenHealthy(h))))
      continue;
    m.probe_kind = static_cast<std::uint8_t>(ProbeKind::kActive);
    m.probe_owner = owner;
    m.probe_deadline_ms = now_ms + zone.probe_timeout_ms + kClaimGraceMs;
    m.next_probe_ms = now_ms + zone.probe_interval_ms;
    Increment(m.probes);
    ProbeClaim& c = out[count++];
    c = ProbeClaim{};
    c.member = static_cast<std::uint32_t>(i);
    c.recovering = recovering;
    if (recovering)
      c.changed = ChangeHealth(zone, i, HealthCause::kProbeSent, now_ms, &c.transition);
  }
  return count;
}

bool EndProbe(Zone& zone, std::size_t index, std::uint32_t owner, ProbeVerdict verdict,
              std::uint64_t now_ms, Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  if (m.probe_kind != static_cast<std::uint8_t>(ProbeKind::kActive) || m.probe_owner != owner)
    return false;
  const bool probing = m.GetHealth() == Health::kProbing;
  m.probe_kind = static_cast<std::uint8_t>(ProbeKind::kNone);
  m.probe_owner = 0;
  m.probe_deadline_ms = 0;
  switch (verdict) {
    case ProbeVerdict::kPassed:
      m.probe_fails = 0;
      if (!probing) return false;
      Increment(m.probe_passes);
      return ChangeHealth(zone, index, HealthCause::kProbePassed, now_ms, transition);
    case ProbeVerdict::kFailed:
      Increment(m.probe_failures);
      m.probe_passes = 0;
      if (probing) return ChangeHealth(zone, index, HealthCause::kProbeFailed, now_ms, transition);
      Increment(m.probe_fails);
      if (zone.probe_fails == 0 || m.probe_fails < zone.probe_fails) return false;
      m.probe_fails = 0;
      return ChangeHealth(zone, index, HealthCause::kHealthProbeFailed, now_ms, transition);
    case ProbeVerdict::kAbandoned:
      if (!probing) return false;
      return ChangeHealth(zone, index, HealthCause::kProbeLost, now_ms, transition);
  }
  return false;
}

}  // namespace sticky
