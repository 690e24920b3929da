// Sessions per member and the minute by minute history (src/activity/): the
// sketch's accuracy, the window sliding with time passed in, the history
// ring, and what a reload keeps.
#include "activity/activity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "balancer/state.h"
#include "status/status.h"

namespace sticky {
namespace {

// Session ids as Tomcat writes them: 32 hex digits, a dot, the jvmRoute.
// A fixed xorshift generator: the same ids on every run.
class TomcatIds {
 public:
  explicit TomcatIds(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::string Next(const std::string& route = "node1") {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%016llX%016llX.", static_cast<unsigned long long>(Step()),
                  static_cast<unsigned long long>(Step()));
    return buf + route;
  }

 private:
  std::uint64_t Step() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  std::uint64_t state_;
};

double RelativeError(std::uint64_t estimate, std::uint64_t truth) {
  return std::fabs(static_cast<double>(estimate) - static_cast<double>(truth)) /
         static_cast<double>(truth);
}

std::uint64_t CountDistinct(std::size_t n, std::uint64_t seed, int repeats = 1) {
  SessionSketch sketch;
  SketchClear(sketch, 1);
  TomcatIds ids(seed);
  std::vector<std::string> all;
  for (std::size_t i = 0; i < n; ++i) all.push_back(ids.Next());
  for (int r = 0; r < repeats; ++r)
    for (const std::string& id : all) SketchAdd(sketch, SessionHash(id));
  return SketchEstimate(sketch);
}

TEST(SessionSketchTest, EmptyIsExactlyZeroAndOneIsOne) {
  SessionSketch sketch;
  SketchClear(sketch, 7);
  EXPECT_EQ(0u, SketchEstimate(sketch));
  SketchAdd(sketch, SessionHash("ABC.node1"));
  EXPECT_EQ(1u, SketchEstimate(sketch));
  EXPECT_EQ(7u, sketch.stamp);
}

TEST(SessionSketchTest, ASessionIsItsIdBeforeTheRoute) {
  EXPECT_EQ(SessionHash("ABC.node1"), SessionHash("ABC.node2"));  // failed over: the same session
  EXPECT_EQ(SessionHash("ABC"), SessionHash("ABC.node1"));
  EXPECT_NE(SessionHash("ABC.node1"), SessionHash("ABD.node1"));
  EXPECT_EQ(0u, SessionHash(""));
  EXPECT_EQ(0u, SessionHash(".node1"));
}

TEST(SessionSketchTest, ThousandAndTenThousandWithinFivePercent) {
  for (std::size_t n : {1000u, 10000u}) {
    const std::uint64_t estimate = CountDistinct(n, 1);
    EXPECT_LE(RelativeError(estimate, n), 0.05) << n << " sessions read as " << estimate;
  }
}

TEST(SessionSketchTest, ErrorAcrossManyPopulations) {
  // Over 40 independent populations of each size the mean error stays near
  // the sketch's standard error (2.3 %), and none is off by more than 8 %
  // (3.5 standard errors).
  for (std::size_t n : {1000u, 10000u}) {
    double sum = 0;
    for (std::uint64_t seed = 100; seed < 140; ++seed) {
      const double e = RelativeError(CountDistinct(n, seed), n);
      EXPECT_LE(e, 0.08) << n << " sessions, seed " << seed;
      sum += e;
    }
    EXPECT_LE(sum / 40, 0.03) << n;
  }
}

TEST(SessionSketchTest, RepeatedRequestsOfASessionCountOnce) {
  EXPECT_EQ(CountDistinct(2000, 5, 1), CountDistinct(2000, 5, 7));
}

TEST(SessionSketchTest, UnionCountsEachSessionOnce) {
  SessionSketch a, b;
  SketchClear(a, 1);
  SketchClear(b, 2);
  TomcatIds ids(9);
  std::vector<std::string> all;
  for (int i = 0; i < 3000; ++i) all.push_back(ids.Next());
  for (int i = 0; i < 2000; ++i) SketchAdd(a, SessionHash(all[i]));     // 0..1999
  for (int i = 1000; i < 3000; ++i) SketchAdd(b, SessionHash(all[i]));  // 1000..2999
  SketchUnion u;
  u.Add(a);
  u.Add(b);
  EXPECT_LE(RelativeError(u.Estimate(), 3000), 0.05) << u.Estimate();
}

// --- in the zone: time passed in, not slept ------------------------------------------------

constexpr std::uint64_t kMinute = kMinuteMs;

class ActivityZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"t1", "t2"}) {
      Member m;
      m.name = name;
      balancer_.members.push_back(m);
    }
  }
  Zone& Build(std::uint32_t window_minutes) {
    options_.sessions_window_minutes = window_minutes;
    memory_.assign(ZoneBytes(2, 0, window_minutes) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_, &options_);
    EXPECT_NE(nullptr, zone_);
    return *zone_;
  }
  // `n` requests of new sessions of `ids` to member i, each ending well.
  void Sessions(std::size_t i, TomcatIds& ids, int n, bool sticky = true) {
    for (int k = 0; k < n; ++k) {
      AttemptKind kind{sticky, false, SessionHash(ids.Next())};
      ReportStart(*zone_, i, kind, now_);
      ReportEnd(*zone_, i, Outcome::kSuccess, 0, 0, now_);
    }
  }
  void Tick() { Maintain(*zone_, now_, 60, nullptr, 0); }
  std::uint64_t InWindow(std::size_t i) {
    return SessionsInWindow(zone_->activity(i), zone_->session_sketches, now_);
  }

  Balancer balancer_;
  HealthOptions options_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::uint64_t now_ = 100 * kMinute + 5'000;  // 5 s into a minute
};

TEST_F(ActivityZoneTest, TheWindowSlidesAMinuteAtATime) {
  Build(30);
  TomcatIds early(1), late(2);
  Sessions(0, early, 500);  // at 100 min 5 s
  now_ += 10 * kMinute;
  Sessions(0, late, 300);   // at 110 min 5 s
  EXPECT_LE(RelativeError(InWindow(0), 800), 0.05) << InWindow(0);
  EXPECT_EQ(0u, InWindow(1));

  // The early sessions count for the whole window after their minute, never less.
  now_ = 100 * kMinute + 5'000 + 30 * kMinute;  // exactly 30 minutes after them
  Tick();
  EXPECT_LE(RelativeError(InWindow(0), 800), 0.05) << InWindow(0);
  now_ = 131 * kMinute - 1;  // the last moment of their minute's window
  EXPECT_LE(RelativeError(InWindow(0), 800), 0.05) << InWindow(0);
  now_ = 131 * kMinute;      // their minute left the window
  Tick();
  EXPECT_LE(RelativeError(InWindow(0), 300), 0.05) << InWindow(0);
  now_ = 141 * kMinute;      // and so did the late ones'
  EXPECT_EQ(0u, InWindow(0));
}

TEST_F(ActivityZoneTest, SlotsOfOldMinutesAreReused) {
  Build(2);  // three sketches
  TomcatIds ids(3);
  for (int minute = 0; minute < 10; ++minute) {
    Sessions(0, ids, 100);
    // This minute and the two before it: 300 once three minutes were seen.
    const std::uint64_t expect = 100u * static_cast<std::uint64_t>(std::min(minute + 1, 3));
    EXPECT_LE(RelativeError(InWindow(0), expect), 0.05) << "minute " << minute << ": " << InWindow(0);
    now_ += kMinute;
    Tick();
  }
}

TEST_F(ActivityZoneTest, HistoryCountsEachMinute) {
  Build(30);
  TomcatIds ids(4);
  const std::uint64_t first = now_;
  Sessions(0, ids, 40);                           // 40 sticky requests of 40 sessions
  ReportStart(*zone_, 0, AttemptKind{false, true, 0}, now_);   // a new session
  ReportStart(*zone_, 0, AttemptKind{false, true, 0}, now_);   // and another, both in flight
  ReportEnd(*zone_, 0, Outcome::kConnectFailed, 0, 0, now_);   // one fails
  now_ += kMinute;
  Tick();  // the next minute: 1 still in flight, the previous minute's sessions recorded
  EXPECT_EQ(kSessionsKnown, zone_->activity(0).history[MinuteStamp(first) % kHistoryMinutes].flags);
  now_ += 2 * kMinute;

  MinuteCounts history[kHistoryMinutes];
  ReadHistory(zone_->activity(0), zone_->session_sketches, now_, history);
  const MinuteCounts& then = history[kHistoryMinutes - 4];  // three minutes before the current one
  EXPECT_EQ(MinuteStamp(first), then.stamp);
  EXPECT_EQ(42u, then.requests);
  EXPECT_EQ(40u, then.sticky_hits);
  EXPECT_EQ(2u, then.new_sessions);
  EXPECT_EQ(1u, then.errors);
  EXPECT_EQ(2u, then.in_flight_peak);
  EXPECT_EQ(40u, then.sessions);
  const MinuteCounts& tick = history[kHistoryMinutes - 3];
  EXPECT_EQ(0u, tick.requests);
  EXPECT_EQ(1u, tick.in_flight_peak);  // the timer saw the request still in flight
  EXPECT_EQ(MinuteStamp(now_), history[kHistoryMinutes - 1].stamp);
  EXPECT_EQ(0u, history[kHistoryMinutes - 1].requests);

  // An hour later the minute is gone from the history.
  now_ += 60 * kMinute;
  ReadHistory(zone_->activity(0), zone_->session_sketches, now_, history);
  for (const MinuteCounts& c : history) EXPECT_EQ(0u, c.requests);
}

TEST_F(ActivityZoneTest, SessionsOfAMinuteSurviveItsSketch) {
  Build(1);  // two sketches: a minute's sketch is reused two minutes later
  TomcatIds ids(6);
  const std::uint64_t first = now_;
  Sessions(0, ids, 25);
  for (int i = 0; i < 5; ++i) {
    now_ += kMinute;
    Tick();
    Sessions(0, ids, 1);
  }
  MinuteCounts history[kHistoryMinutes];
  ReadHistory(zone_->activity(0), zone_->session_sketches, now_, history);
  EXPECT_EQ(25u, history[kHistoryMinutes - 6].sessions);
  EXPECT_EQ(MinuteStamp(first), history[kHistoryMinutes - 6].stamp);
  EXPECT_EQ(1u, history[kHistoryMinutes - 1].sessions);
}

TEST_F(ActivityZoneTest, WindowOffCountsNoSessions) {
  Build(0);
  EXPECT_EQ(0u, zone_->session_sketches);
  EXPECT_EQ(ZoneBytes(2, 0, 0), ZoneBytes(2, 0, 0));
  EXPECT_LT(ZoneBytes(2, 0, 0), ZoneBytes(2, 0, 30));
  TomcatIds ids(7);
  Sessions(1, ids, 10);
  EXPECT_EQ(0u, InWindow(1));
  MinuteCounts history[kHistoryMinutes];
  ReadHistory(zone_->activity(1), 0, now_, history);
  EXPECT_EQ(10u, history[kHistoryMinutes - 1].requests);
}

TEST_F(ActivityZoneTest, AReloadKeepsActivityByName) {
  Build(30);
  TomcatIds ids(8);
  Sessions(1, ids, 200);  // t2
  std::vector<std::uint64_t> old = memory_;

  // t2 moves to the front and t3 joins.
  Balancer next;
  for (const char* name : {"t2", "t3", "t1"}) {
    Member m;
    m.name = name;
    next.members.push_back(m);
  }
  std::vector<std::uint64_t> fresh(ZoneBytes(3, 0, 30) / 8 + 1, 0);
  Zone* z = ReconcileZone(fresh.data(), fresh.size() * 8, next, old.data(), old.size() * 8, now_,
                          nullptr, &options_);
  ASSERT_NE(nullptr, z);
  EXPECT_LE(RelativeError(SessionsInWindow(z->activity(0), z->session_sketches, now_), 200), 0.05);
  EXPECT_EQ(0u, SessionsInWindow(z->activity(1), z->session_sketches, now_));
  MinuteCounts history[kHistoryMinutes];
  ReadHistory(z->activity(0), z->session_sketches, now_, history);
  EXPECT_EQ(200u, history[kHistoryMinutes - 1].requests);

  // Another window: the sketches cannot be carried over, the history is.
  HealthOptions shorter = options_;
  shorter.sessions_window_minutes = 5;
  std::vector<std::uint64_t> again(ZoneBytes(3, 0, 5) / 8 + 1, 0);
  z = ReconcileZone(again.data(), again.size() * 8, next, old.data(), old.size() * 8, now_,
                    nullptr, &shorter);
  ASSERT_NE(nullptr, z);
  EXPECT_EQ(5u, z->SessionsWindowMinutes());
  EXPECT_EQ(0u, SessionsInWindow(z->activity(0), z->session_sketches, now_));
  ReadHistory(z->activity(0), z->session_sketches, now_, history);
  EXPECT_EQ(200u, history[kHistoryMinutes - 1].requests);
}

// --- the drain signal, as every status format reads it -------------------------------------

TEST_F(ActivityZoneTest, ADrainedMemberIsDoneWhenItsSessionsLeftTheWindow) {
  balancer_.name = "cluster";
  Build(30);
  Selector selector(balancer_);
  StatusView view;
  view.upstreams = {UpstreamView{"tomcats", &balancer_, &selector, zone_, 60}};
  const auto row = [&](std::size_t i) {
    view.now_ms = now_;
    return WorkerRows(view.upstreams[0], view).at(i);
  };
  TomcatIds ids(10);
  Sessions(1, ids, 50);
  EXPECT_FALSE(row(1).drain_done);  // active: never "done"
  zone_->record(1).activation = static_cast<std::uint8_t>(Activation::kDisabled);
  EXPECT_FALSE(row(1).drain_done);
  EXPECT_LE(RelativeError(row(1).sessions, 50), 0.05);

  now_ += 30 * kMinute;
  EXPECT_FALSE(row(1).drain_done) << "30 minutes after the last request: still in the window";
  now_ += kMinute;
  EXPECT_TRUE(row(1).drain_done);
  EXPECT_EQ(0u, row(1).sessions);

  ReportStart(*zone_, 1, AttemptKind{true, false, SessionHash("LATE.t2")}, now_);
  EXPECT_FALSE(row(1).drain_done) << "a request in flight, and a session in the window";
  ReportEnd(*zone_, 1, Outcome::kSuccess, 0, 0, now_);
  EXPECT_EQ(1u, row(1).sessions);
  const std::string json = RenderJson(view);
  EXPECT_NE(std::string::npos, json.find("\"sessions\":1,\"sessions_window_s\":1800,\"drain_done\":false"))
      << json;
}

}  // namespace
}  // namespace sticky
