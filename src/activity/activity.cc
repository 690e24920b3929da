#include "activity/activity.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace sticky {
namespace {

void Increment(std::uint32_t& counter) {
  if (counter < std::numeric_limits<std::uint32_t>::max()) ++counter;
}

std::uint32_t Clamp32(std::uint64_t v) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, std::numeric_limits<std::uint32_t>::max()));
}

const MinuteCounts* FindMinute(const MemberActivity& a, std::uint32_t stamp) {
  const MinuteCounts& c = a.history[stamp % kHistoryMinutes];
  return c.stamp == stamp ? &c : nullptr;
}

const SessionSketch* FindSketch(const MemberActivity& a, std::size_t sketches,
                                std::uint32_t stamp) {
  if (sketches == 0 || stamp == 0) return nullptr;
  const SessionSketch& s = a.sketches()[stamp % sketches];
  return s.stamp == stamp ? &s : nullptr;
}

}  // namespace

void ClearActivity(MemberActivity& a, std::size_t sketches) noexcept {
  std::memset(static_cast<void*>(&a), 0, ActivityBytes(sketches));
}

MinuteCounts& CurrentMinute(MemberActivity& a, std::uint64_t now_ms) noexcept {
  const std::uint32_t stamp = MinuteStamp(now_ms);
  MinuteCounts& c = a.history[stamp % kHistoryMinutes];
  if (c.stamp != stamp) c = MinuteCounts{stamp, 0, 0, 0, 0, 0, 0, 0};
  return c;
}

void CountStart(MemberActivity& a, std::size_t sketches, const StartedAttempt& attempt,
                std::uint64_t now_ms) noexcept {
  MinuteCounts& c = CurrentMinute(a, now_ms);
  Increment(c.requests);
  if (attempt.sticky_hit) Increment(c.sticky_hits);
  if (attempt.new_session) Increment(c.new_sessions);
  c.in_flight_peak = std::max(c.in_flight_peak, Clamp32(attempt.in_flight));
  if (sketches == 0 || attempt.session_hash == 0) return;
  SessionSketch& s = a.sketches()[c.stamp % sketches];
  if (s.stamp != c.stamp) {
    // The slot's minute left the window; its count was taken by
    // RecordPastSessions() unless no tick ran in the whole window.
    SketchClear(s, c.stamp);
  }
  SketchAdd(s, attempt.session_hash);
}

void CountError(MemberActivity& a, std::uint64_t now_ms) noexcept {
  Increment(CurrentMinute(a, now_ms).errors);
}

void CountInFlight(MemberActivity& a, std::uint64_t in_flight, std::uint64_t now_ms) noexcept {
  MinuteCounts& c = CurrentMinute(a, now_ms);
  c.in_flight_peak = std::max(c.in_flight_peak, Clamp32(in_flight));
}

std::size_t RecordPastSessions(MemberActivity& a, std::size_t sketches,
                               std::uint64_t now_ms) noexcept {
  const std::uint32_t now = MinuteStamp(now_ms);
  std::size_t read = 0;
  for (std::size_t k = 0; k < sketches; ++k) {
    const SessionSketch& s = a.sketches()[k];
    if (s.stamp == 0 || s.stamp >= now) continue;
    MinuteCounts& c = a.history[s.stamp % kHistoryMinutes];
    if (c.stamp != s.stamp || (c.flags & kSessionsKnown) != 0) continue;
    c.sessions = Clamp32(SketchEstimate(s));
    c.flags |= kSessionsKnown;
    ++read;
  }
  return read;
}

std::uint64_t SessionsOfMinute(const MemberActivity& a, std::size_t sketches,
                               std::uint32_t stamp) noexcept {
  const MinuteCounts* c = FindMinute(a, stamp);
  if (c != nullptr && (c->flags & kSessionsKnown) != 0) return c->sessions;
  const SessionSketch* s = FindSketch(a, sketches, stamp);
  return s != nullptr ? SketchEstimate(*s) : 0;
}

std::uint64_t SessionsInWindow(const MemberActivity& a, std::size_t sketches,
                               std::uint64_t now_ms) noexcept {
  const std::uint32_t now = MinuteStamp(now_ms);
  SketchUnion window;
  bool any = false;
  for (std::size_t k = 0; k < sketches; ++k) {
    const SessionSketch& s = a.sketches()[k];
    // The current minute and the `sketches - 1` before it.
    if (s.stamp == 0 || s.stamp > now || now - s.stamp >= sketches) continue;
    window.Add(s);
    any = true;
  }
  return any ? window.Estimate() : 0;
}

void ReadHistory(const MemberActivity& a, std::size_t sketches, std::uint64_t now_ms,
                 MinuteCounts* out) noexcept {
  const std::uint32_t now = MinuteStamp(now_ms);
  for (std::size_t k = 0; k < kHistoryMinutes; ++k) {
    const std::uint32_t back = static_cast<std::uint32_t>(kHistoryMinutes - 1 - k);
    MinuteCounts& c = out[k];
    c = MinuteCounts{};
    if (now <= back) continue;  // before the clock's first minute
    const std::uint32_t stamp = now - back;
    const MinuteCounts* found = FindMinute(a, stamp);
    if (found != nullptr) c = *found;
    c.stamp = stamp;
    if ((c.flags & kSessionsKnown) == 0 && FindSketch(a, sketches, stamp) != nullptr) {
      c.sessions = Clamp32(SessionsOfMinute(a, sketches, stamp));
      c.flags |= kSessionsKnown;
    }
  }
}

}  // namespace sticky
