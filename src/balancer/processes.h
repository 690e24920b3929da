// The processes that use a zone, and what each of them holds.
//
// Every nginx worker process of a configuration takes a slot in the zone of
// that configuration (its pid, and when the kernel says so, when it started).
// The attempts it starts are counted in its slot as well as in the members'
// totals, and the probe claims it takes carry its pid. A process that dies
// without ending its attempts (kill -9, a crash, the OOM killer) cannot give
// them back itself: whoever notices it is gone releases its slot, which
// takes its attempts off the totals and drops its claims. Noticing is the
// caller's business (the glue asks the kernel); this file keeps the books.
// Zone lock held by the caller; time passed in.
#ifndef STICKY_PROCESSES_H
#define STICKY_PROCESSES_H

#include <cstddef>
#include <cstdint>

#include "balancer/health.h"
#include "balancer/state.h"

namespace sticky {

// The slot of process `pid`: the one it already has (one the master
// registered for it matches by pid, and by start_token when both know it),
// else a free one, which it now has. kNoProcess when every slot is taken.
std::size_t AttachProcess(Zone& zone, std::uint32_t pid, std::uint64_t start_token) noexcept;

// The slot `pid` has, or kNoProcess.
std::size_t FindProcess(const Zone& zone, std::uint32_t pid) noexcept;

// The process of slot `slot` is gone (or leaves): its attempts are taken off
// the members' totals, its probe claims are dropped (ERR/PRB -> ERR/REC), a
// member below busy_limit again leaves OK/BUSY, and the slot is freed.
// Writes up to `capacity` transitions to `out` and returns how many.
std::size_t ReleaseProcess(Zone& zone, std::size_t slot, std::uint64_t now_ms, Transition* out,
                           std::size_t capacity) noexcept;

// Slots in use.
std::size_t ProcessCount(const Zone& zone) noexcept;

// True, and the check's time recorded, when no process has checked the
// slots for `period_ms`: one process per period asks the kernel about the
// others.
bool ProcessCheckDue(Zone& zone, std::uint64_t now_ms, std::uint64_t period_ms) noexcept;

}  // namespace sticky

#endif  // STICKY_PROCESSES_H
