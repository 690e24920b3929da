#include "balancer/processes.h"

#include <algorithm>

#include "balancer/counters.h"

namespace sticky {

std::size_t FindProcess(const Zone& zone, std::uint32_t pid) noexcept {
  if (pid == 0) return kNoProcess;
  for (std::size_t i = 0; i < zone.process_capacity; ++i)
    if (zone.slots()[i].pid == pid) return i;
  return kNoProcess;
}

std::size_t AttachProcess(Zone& zone, std::uint32_t pid, std::uint64_t start_token) noexcept {
  if (pid == 0) return kNoProcess;
  ProcessSlot* slots = zone.slots();
  std::size_t free = kNoProcess;
  for (std::size_t i = 0; i < zone.process_capacity; ++i) {
    ProcessSlot& s = slots[i];
    if (s.pid == pid &&
        (s.start_token == 0 || start_token == 0 || s.start_token == start_token)) {
      if (s.start_token == 0) s.start_token = start_token;
      return i;
    }
    if (s.pid == 0 && free == kNoProcess) free = i;
  }
  if (free == kNoProcess) return kNoProcess;
  // A free slot holds nothing: ReleaseProcess() zeroed its counts.
  slots[free].pid = pid;
  slots[free].start_token = start_token;
  return free;
}

std::size_t ReleaseProcess(Zone& zone, std::size_t slot, std::uint64_t now_ms, Transition* out,
                           std::size_t capacity) noexcept {
  if (slot >= zone.process_capacity || zone.slots()[slot].pid == 0) return 0;
  const std::uint32_t pid = zone.slots()[slot].pid;
  std::uint32_t* held = zone.held(slot);
  std::size_t count = 0;
  auto change = [&](std::size_t i, HealthCause cause) {
    Transition t;
    if (ChangeHealth(zone, i, cause, now_ms, &t) && out != nullptr && count < capacity)
      out[count++] = t;
  };
  for (std::size_t i = 0; i < zone.member_count; ++i) {
    MemberState& m = zone.record(i);
    const std::uint64_t in_flight = AtomicSubtractFloor(m.in_flight, held[i]);
    held[i] = 0;
    if (zone.GetMethod() == Method::kBusyness)  // as FinishEnd() derives it
      m.lb_value = in_flight * ScaledMult(zone, m, now_ms) / kMultScale;
    if (m.probe_kind != static_cast<std::uint8_t>(ProbeKind::kNone) && m.probe_owner == pid) {
      if (m.GetHealth() == Health::kProbing) {
        change(i, HealthCause::kProbeLost);
      } else {
        m.probe_kind = static_cast<std::uint8_t>(ProbeKind::kNone);
        m.probe_owner = 0;
        m.probe_deadline_ms = 0;
      }
    }
    change(i, HealthCause::kNotBusy);
  }
  zone.slots()[slot] = ProcessSlot{};
  return count;
}

std::size_t ProcessCount(const Zone& zone) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < zone.process_capacity; ++i)
    if (zone.slots()[i].pid != 0) ++n;
  return n;
}

bool ProcessCheckDue(Zone& zone, std::uint64_t now_ms, std::uint64_t period_ms) noexcept {
  if (zone.processes_checked_ms != 0 && now_ms >= zone.processes_checked_ms &&
      now_ms - zone.processes_checked_ms < period_ms)
    return false;
  zone.processes_checked_ms = now_ms;
  return true;
}

}  // namespace sticky
