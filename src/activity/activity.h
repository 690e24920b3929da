// What each member did minute by minute, kept in the shared zone for the
// status page: the last 60 minutes of counts (requests, sticky hits, new
// sessions, errors, the peak of requests in flight, distinct sessions), and
// one session sketch per minute of the sessions window, so that "sessions
// seen in the last N minutes" slides a minute at a time.
//
// Minutes are numbered by the zone's monotonic clock (MinuteStamp()); a ring
// slot whose stamp is not the minute asked for holds an older minute and is
// cleared before it is reused. Fixed size, set when the zone is built:
// nothing is allocated, and writing takes the zone lock the caller holds
// anyway (ReportStart, ReportEnd, Maintain in state.h).
#ifndef STICKY_ACTIVITY_H
#define STICKY_ACTIVITY_H

#include <cstddef>
#include <cstdint>

#include "activity/sketch.h"

namespace sticky {

inline constexpr std::uint64_t kMinuteMs = 60000;
inline constexpr std::size_t kHistoryMinutes = 60;
// The servlet specification's usual session timeout.
inline constexpr std::uint32_t kDefaultSessionsWindowMinutes = 30;
inline constexpr std::uint32_t kMaxSessionsWindowMinutes = 60;

// The stamp of the minute of `now_ms`: minute number + 1, so 0 means unused.
inline std::uint32_t MinuteStamp(std::uint64_t now_ms) noexcept {
  return static_cast<std::uint32_t>(now_ms / kMinuteMs + 1);
}

// One minute of one member.
struct MinuteCounts {
  std::uint32_t stamp;           // MinuteStamp(); 0: unused
  std::uint32_t requests;        // attempts started
  std::uint32_t sticky_hits;
  std::uint32_t new_sessions;
  std::uint32_t errors;          // failed attempts
  std::uint32_t in_flight_peak;  // the most requests in flight seen in the minute
  std::uint32_t sessions;        // distinct sessions, once kSessionsKnown is set
  std::uint32_t flags;
};
inline constexpr std::uint32_t kSessionsKnown = 1;  // `sessions` was read from the minute's sketch
static_assert(sizeof(MinuteCounts) == 32);

// A member's activity record: the history ring, then `sketches` session
// sketches (the window's minutes and the current one; 0 when the window is
// off), ring by stamp % sketches.
struct MemberActivity {
  MinuteCounts history[kHistoryMinutes];  // ring by stamp % kHistoryMinutes

  SessionSketch* sketches() noexcept { return reinterpret_cast<SessionSketch*>(this + 1); }
  const SessionSketch* sketches() const noexcept {
    return reinterpret_cast<const SessionSketch*>(this + 1);
  }
};
static_assert(sizeof(MemberActivity) % 8 == 0);

// Sketches a window of `window_minutes` needs: one more than the window, so
// that a session seen at any time in the oldest minute counts for a whole
// window after it. 0 turns sessions counting off.
inline constexpr std::size_t SketchesFor(std::uint32_t window_minutes) {
  return window_minutes == 0 ? 0 : std::size_t{window_minutes} + 1;
}
inline constexpr std::size_t ActivityBytes(std::size_t sketches) {
  return sizeof(MemberActivity) + sketches * sizeof(SessionSketch);
}

// `a` fresh: no minute recorded.
void ClearActivity(MemberActivity& a, std::size_t sketches) noexcept;

// The counts of the minute of `now_ms`, cleared first if the slot held an
// older minute.
MinuteCounts& CurrentMinute(MemberActivity& a, std::uint64_t now_ms) noexcept;

// An attempt started: counted in the current minute, with its session (hash
// from SessionHash(); 0: none) in the current minute's sketch.
struct StartedAttempt {
  bool sticky_hit = false;
  bool new_session = false;
  std::uint64_t session_hash = 0;
  std::uint64_t in_flight = 0;  // requests in flight on the member, this one included
};
void CountStart(MemberActivity& a, std::size_t sketches, const StartedAttempt& attempt,
                std::uint64_t now_ms) noexcept;

// A failed attempt, in the current minute.
void CountError(MemberActivity& a, std::uint64_t now_ms) noexcept;
// Requests in flight now, for the current minute's peak (the timer's view,
// which sees long requests through minutes in which none started).
void CountInFlight(MemberActivity& a, std::uint64_t in_flight, std::uint64_t now_ms) noexcept;

// Once a minute is over, its sketch's estimate is written into its counts
// (kSessionsKnown), before the sketch is reused. Returns the number of
// sketches read.
std::size_t RecordPastSessions(MemberActivity& a, std::size_t sketches,
                               std::uint64_t now_ms) noexcept;

// Distinct sessions of the minute of `stamp`: from its counts when known,
// else from its sketch if still kept, else 0.
std::uint64_t SessionsOfMinute(const MemberActivity& a, std::size_t sketches,
                               std::uint32_t stamp) noexcept;

// Distinct sessions seen in the last `window_minutes` whole minutes and the
// current one (sketches = SketchesFor(window_minutes)): 0 exactly when no
// session reached the member in that time.
std::uint64_t SessionsInWindow(const MemberActivity& a, std::size_t sketches,
                               std::uint64_t now_ms) noexcept;

// The last kHistoryMinutes minutes, oldest first, out[kHistoryMinutes - 1]
// being the current one: each with its stamp, zeros for a minute nothing was
// recorded in, and its sessions from SessionsOfMinute() (kSessionsKnown set
// when they were counted: the window was on and the minute's sketch read).
void ReadHistory(const MemberActivity& a, std::size_t sketches, std::uint64_t now_ms,
                 MinuteCounts* out) noexcept;

}  // namespace sticky

#endif  // STICKY_ACTIVITY_H
