// Active probes (`sticky_workers FILE probe=URI ...`): which member the
// timer of which nginx process tests, and what a probe's verdict does.
//
// Every worker process ticks; under the zone lock each one claims the
// members that are due, so a member is probed by one process at a time: the
// claim (ProbeKind::kActive, owner pid, deadline) lives in the member's
// record. A claim that outlives its deadline (its process died) is dropped
// by Maintain() and the member is claimed again. Zone lock held by the
// caller; time passed in.
#ifndef STICKY_PROBE_H
#define STICKY_PROBE_H

#include <cstddef>
#include <cstdint>

#include "balancer/state.h"

namespace sticky {

// A probe the caller must now send.
struct ProbeClaim {
  std::uint32_t member = 0;
  bool recovering = false;   // an ERR/REC member (now ERR/PRB); else a healthy one
  bool changed = false;      // `transition` holds ERR/REC -> ERR/PRB
  Transition transition;
};

// With active probes: claims for process `owner` (non-zero) every member
// due for a probe — ERR/REC members, and with probe_fails healthy ones —
// whose previous probe is probe_interval old and which nobody probes now.
// Stopped members are not probed. Writes up to `capacity` claims and
// returns how many; the rest wait for a later tick.
std::size_t ClaimProbes(Zone& zone, std::uint64_t now_ms, std::uint32_t owner, ProbeClaim* out,
                        std::size_t capacity) noexcept;

enum class ProbeVerdict : std::uint8_t {
  kPassed,     // 2xx or 3xx
  kFailed,     // connect failure, broken read, timeout, any other status
  kAbandoned,  // not sent (no free connection, the process is quitting): no verdict
};

// The probe of member `index` claimed by `owner` ended. A recovering member
// goes to OK after probe_passes passes in a row (ERR/REC between them) and
// back to ERR, its recover timer restarted, on a failure; a healthy member
// goes to ERR after probe_fails failures in a row. A verdict for a claim
// that is no longer `owner`'s (dropped, or taken over) changes nothing.
// Returns true and fills *transition if health changed.
bool EndProbe(Zone& zone, std::size_t index, std::uint32_t owner, ProbeVerdict verdict,
              std::uint64_t now_ms, Transition* transition = nullptr) noexcept;

}  // namespace sticky

#endif  // STICKY_PROBE_H
