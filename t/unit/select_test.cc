// Choosing a member (src/balancer/select.h): new sessions, load methods, sticky
// routes and domains, activation (jk_lb_worker.c).
#include <map>
#include <string>

#include "select_fixture.h"

namespace sticky {
namespace test {
namespace {

// --- new sessions --------------------------------------------------------

TEST_F(SelectTest, NewSessionsTakeTurns) {
  Add("n1");
  Add("n2");
  Add("n3");
  auto count = NewSessions(300);
  EXPECT_EQ(100, count["n1"]);
  EXPECT_EQ(100, count["n2"]);
  EXPECT_EQ(100, count["n3"]);
  Decision d = Choose("");
  EXPECT_EQ(Reason::kBalanced, d.reason);
  EXPECT_TRUE(d.new_session);
  EXPECT_FALSE(d.sticky_hit);
  EXPECT_FALSE(d.route_changed);
}

TEST_F(SelectTest, LbFactorThreeToOne) {
  Add("big", 3);
  Add("small", 1);
  auto count = NewSessions(400);
  EXPECT_NEAR(300, count["big"], 400 * 0.05);
  EXPECT_NEAR(100, count["small"], 400 * 0.05);
}

TEST_F(SelectTest, RequestMethodCountsStickyRequests) {
  Add("n1");
  Add("n2");
  for (int i = 0; i < 10; ++i) EXPECT_EQ("n1", Pick(Session("S.n1")));
  for (int i = 0; i < 10; ++i) EXPECT_EQ("n2", Pick()) << "n1 carries the sticky load";
}

TEST_F(SelectTest, SessionMethodIgnoresStickyRequests) {
  balancer_.method = Method::kSession;
  Add("n1");
  Add("n2");
  for (int i = 0; i < 10; ++i) EXPECT_EQ("n1", Pick(Session("S.n1")));
  auto count = NewSessions(10);
  EXPECT_EQ(5, count["n1"]);
  EXPECT_EQ(5, count["n2"]);
}

TEST_F(SelectTest, NextMethodRoundRobinAfterDecay) {
  balancer_.method = Method::kNext;
  Add("n1");
  Add("n2");
  for (int i = 0; i < 3; ++i) Pick();  // n1, n2, n1
  Advance(60'000);                      // 2,1 -> 1,0
  EXPECT_EQ(1u, State("n1").lb_value);
  EXPECT_EQ(0u, State("n2").lb_value);
  EXPECT_EQ("n2", Pick());
}

TEST_F(SelectTest, TrafficMethodFollowsBytes) {
  balancer_.method = Method::kTraffic;
  Add("n1");
  Add("n2");
  EXPECT_EQ("n1", Pick("", "/", Outcome::kSuccess, 1'000'000));
  for (int i = 0; i < 5; ++i) EXPECT_EQ("n2", Pick("", "/", Outcome::kSuccess, 100));
}

TEST_F(SelectTest, BusynessMethodFollowsInFlight) {
  balancer_.method = Method::kBusyness;
  Add("n1");
  Add("n2");
  Build();
  Decision d = Choose("");
  ReportStart(*zone_, d.member, d.Kind(), now_);  // still running
  const std::string busy(selector_->name(d.member));
  for (int i = 0; i < 5; ++i) EXPECT_NE(busy, Pick());
  ReportEnd(*zone_, d.member, Outcome::kSuccess, 0, 0, now_);
  EXPECT_EQ(0u, State(busy).lb_value);
}

TEST_F(SelectTest, DistanceTiers) {
  Add("near1", 1, 0);
  Add("near2", 1, 0);
  Add("far", 1, 1);
  auto count = NewSessions(20);
  EXPECT_EQ(0, count["far"]);
  EXPECT_EQ("far", Pick(Session("S.far"))) << "a route ignores distance";
  Fail("near1");
  Fail("near2");
  EXPECT_EQ("far", Pick());
}

// Equal loads: the scan starts at the rotation and wraps around; the first
// member of the lowest distance from there wins.
TEST_F(SelectTest, TiesGoToTheFirstFromTheRotationAroundTheEnd) {
  Add("a");
  Add("b");
  Add("c");
  Add("d");
  Build();
  for (std::uint64_t r = 0; r < 8; ++r) {
    zone_->rotation = r;
    EXPECT_EQ(std::string(1, "abcd"[r % 4]), Describe(*selector_, Choose(""))) << r;
  }
  Tried("a");
  zone_->rotation = 4;
  EXPECT_EQ("b", Describe(*selector_, Choose("")));
  Tried("d");
  zone_->rotation = 3;
  EXPECT_EQ("b", Describe(*selector_, Choose(""))) << "d tried, a tried: around to b";
}

TEST_F(SelectTest, TiesWithinTheLowestDistanceAroundTheEnd) {
  Add("a", 1, 1);
  Add("b", 1, 0);
  Add("c", 1, 1);
  Add("d", 1, 0);
  Build();
  const char* expected[] = {"b", "b", "d", "d"};
  for (std::uint64_t r = 0; r < 4; ++r) {
    zone_->rotation = r;
    EXPECT_EQ(expected[r], Describe(*selector_, Choose(""))) << r;
  }
  State("d").lb_value = 5;
  zone_->rotation = 3;
  EXPECT_EQ("b", Describe(*selector_, Choose(""))) << "the lower load of distance 0";
  State("b").lb_value = 9;
  State("a").lb_value = 0;
  EXPECT_EQ("d", Describe(*selector_, Choose(""))) << "distance before load";
}

TEST_F(SelectTest, StickyOffIgnoresSessions) {
  balancer_.sticky_session = false;
  Add("n1");
  Add("n2");
  EXPECT_EQ("n1", Pick(Session("S.n2")));
  const std::string cookie = Session("S.n2");
  Decision d = Choose(cookie);
  EXPECT_EQ("n2", d.route) << "still read, for $sticky_session_route";
  EXPECT_TRUE(d.new_session);
  EXPECT_FALSE(d.sticky_hit);
}

// --- sticky sessions ------------------------------------------------------

TEST_F(SelectTest, StickyRoute) {
  Add("n1");
  Add("n2");
  for (int i = 0; i < 5; ++i) EXPECT_EQ("n2", Pick(Session("ABC.n2")));
  const std::string cookie = Session("ABC.n2");  // the decision's views point into it
  Decision d = Choose(cookie);
  EXPECT_EQ(Reason::kStickyRoute, d.reason);
  EXPECT_TRUE(d.sticky_hit);
  EXPECT_FALSE(d.route_changed);
  EXPECT_FALSE(d.new_session);
  EXPECT_EQ("n2", d.route);
  EXPECT_EQ("ABC.n2", d.session_id);
  EXPECT_EQ(5u, State("n2").sticky_hits);
}

TEST_F(SelectTest, RouteDiffersFromName) {
  Add("worker1").route = "tomcatA";
  Add("worker2").route = "tomcatB";
  EXPECT_EQ("worker2", Pick(Session("X.tomcatB")));
  EXPECT_FALSE(Choose(Session("X.worker2")).sticky_hit) << "routes, not names, are matched";
}

TEST_F(SelectTest, PathParameterBeatsCookie) {
  Add("n1");
  Add("n2");
  EXPECT_EQ("n1", Pick(Session("B.n2"), "/app;jsessionid=A.n1?x=1"));
}

TEST_F(SelectTest, FirstUsableCandidateWins) {
  Add("n1");
  Add("n2");
  Add("n3");
  EXPECT_EQ("n2", Pick("JSESSIONID=A.zz; JSESSIONID=B.n2"));
  Fail("n1");
  Decision d = Choose("JSESSIONID=A.n1; JSESSIONID=B.n3");
  EXPECT_EQ("n3", Describe(*selector_, d)) << "the second session's member beats failover";
  EXPECT_TRUE(d.sticky_hit);
  EXPECT_EQ("n3", d.route);
}

TEST_F(SelectTest, SeveralCookieHeaders) {
  Add("n1");
  Add("n2");
  Build();
  std::string_view headers[] = {"a=1", "JSESSIONID=A.zz", "JSESSIONID=B.n2"};
  SessionCandidate c[kMaxSessionCandidates];
  std::size_t n = FindSessionCandidates("/", headers, 3, selector_->session_names(), c,
                                        kMaxSessionCandidates);
  Decision d = selector_->Select(*zone_, SelectRequest{c, n, nullptr, now_, 0});
  EXPECT_EQ("n2", Describe(*selector_, d));
}

TEST_F(SelectTest, CookieNameIsCaseSensitiveAndExact) {
  Add("n1");
  Add("n2");
  EXPECT_EQ(Reason::kBalanced, Choose("jsessionid=A.n2").reason);
  EXPECT_EQ(Reason::kBalanced, Choose("XJSESSIONID=A.n2").reason);
  EXPECT_TRUE(Choose("XJSESSIONID=A.n1; JSESSIONID=A.n2").sticky_hit);
}

TEST_F(SelectTest, QuotedAndEmptyCookies) {
  Add("n1");
  Add("n2");
  EXPECT_EQ("n2", Pick("JSESSIONID=\"A.n2\""));
  Decision d = Choose("JSESSIONID=; JSESSIONID=\"\"");
  EXPECT_EQ(Reason::kBalanced, d.reason);
  EXPECT_TRUE(d.new_session);
}

TEST_F(SelectTest, SessionWithoutRouteIsBalancedButNotNew) {
  Add("n1");
  Add("n2");
  Decision d = Choose(Session("NODOT"));
  EXPECT_EQ(Reason::kBalanced, d.reason);
  EXPECT_FALSE(d.new_session);
  EXPECT_FALSE(d.route_changed);
}

TEST_F(SelectTest, ExtraDotsAreNotStickyWithPlainRoutes) {
  Add("n1");
  Add("n2");
  const std::string cookie = Session("ABC.n2.extra");
  Decision d = Choose(cookie);
  EXPECT_EQ(Reason::kBalanced, d.reason);
  EXPECT_FALSE(d.sticky_hit);
  EXPECT_TRUE(d.route_changed);
  EXPECT_EQ("n2.extra", d.route);
}

TEST_F(SelectTest, DottedRoutesAndDomains) {
  Add("w1").route = "d1.w1";
  Add("w3").route = "d1.w3";
  Add("x").route = "x";
  EXPECT_EQ("w3", Pick(Session("S.d1.w3")));
  EXPECT_EQ(Reason::kStickyRoute, Choose(Session("S.d1.w3")).reason);
  Decision d = Choose(Session("S.d1"));
  EXPECT_EQ(Reason::kStickyDomain, d.reason);
  EXPECT_TRUE(d.sticky_hit);
  const std::string first = Pick(Session("S.d1"));
  EXPECT_TRUE(first == "w1" || first == "w3");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(first, Pick(Session("S.d1"))) << "one member per session";
  std::map<std::string, int> spread;
  for (int i = 0; i < 100; ++i) ++spread[Pick(Session("T" + std::to_string(i) + ".d1"))];
  EXPECT_EQ(0, spread["x"]);
  EXPECT_GT(spread["w1"], 25);
  EXPECT_GT(spread["w3"], 25);
}

TEST_F(SelectTest, DomainFailoverStaysInDomain) {
  Add("a1").domain = "A";
  Add("a2").domain = "A";
  Add("b1").domain = "B";
  Fail("a1");
  for (int i = 0; i < 20; ++i) {
    Decision d = Choose(Session("S" + std::to_string(i) + ".a1"));
    EXPECT_EQ("a2", Describe(*selector_, d));
    EXPECT_EQ(Reason::kDomainFailover, d.reason);
    EXPECT_TRUE(d.route_changed);
  }
}

TEST_F(SelectTest, OverlongValues) {
  Add("n1");
  Add("n2");
  const std::string id = std::string(200'000, 'Z') + ".n2";
  EXPECT_EQ("n2", Pick(Session(id)));
  EXPECT_EQ(Reason::kBalanced, Choose(Session("S." + std::string(100'000, 'n'))).reason);
  EXPECT_EQ("n1", Pick(Session("S.n1"), "/x;jsessionid=" + std::string(100'000, '.')));
}

// --- activation -----------------------------------------------------------

TEST_F(SelectTest, DisabledTakesOnlyItsOwnSessions) {
  Add("n1");
  Add("n2").activation = Activation::kDisabled;
  auto count = NewSessions(20);
  EXPECT_EQ(0, count["n2"]);
  EXPECT_EQ("n2", Pick(Session("S.n2")));
  EXPECT_TRUE(Choose(Session("S.n2")).sticky_hit);
}

TEST_F(SelectTest, StoppedTakesNothing) {
  Add("n1");
  Add("n2").activation = Activation::kStopped;
  Add("n3");
  EXPECT_EQ(0, NewSessions(20)["n2"]);
  Decision d = Choose(Session("S.n2"));
  EXPECT_NE("n2", Describe(*selector_, d));
  EXPECT_EQ(Reason::kRendezvous, d.reason);
  EXPECT_TRUE(d.route_changed);
  EXPECT_FALSE(d.new_session);
}

TEST_F(SelectTest, RuntimeActivationComesFromTheZone) {
  Add("n1");
  Add("n2");
  Build();
  SetActivation("n2", Activation::kDisabled);
  EXPECT_EQ(0, NewSessions(10)["n2"]);
}

TEST_F(SelectTest, RedirectIsPreferredFailover) {
  Add("n1").redirect = "r3";
  Add("n2");
  Add("n3").route = "r3";
  Fail("n1");
  for (int i = 0; i < 20; ++i) {
    Decision d = Choose(Session("S" + std::to_string(i) + ".n1"));
    EXPECT_EQ("n3", Describe(*selector_, d));
    EXPECT_EQ(Reason::kRedirect, d.reason);
  }
}

TEST_F(SelectTest, DisabledHotStandby) {
  // mod_jk: r1 has redirect=r2, r2 is Disabled; r1 dies: new and sticky
  // requests go to r2.
  Add("r1").redirect = "r2";
  Add("r2").activation = Activation::kDisabled;
  EXPECT_EQ("r1", Pick());
  Fail("r1");
  EXPECT_EQ("r2", Pick(Session("S.r1")));
  Decision d = Choose("");
  EXPECT_EQ("r2", Describe(*selector_, d));
  EXPECT_EQ(Reason::kHotStandby, d.reason);
}

}  // namespace
}  // namespace test
}  // namespace sticky
