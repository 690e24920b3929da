// Choosing a member when members fail (src/balancer/select.h): sticky_session_force,
// the stable per-session failover, the tried bitmap, recovery, and a check
// that the request path allocates nothing.
//
// This file replaces the global operator new/delete with counting versions
// (at the bottom); no other test file may replace them.
#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "select_fixture.h"

namespace {
std::atomic<long> g_allocations{0};
}

namespace sticky {
namespace test {
namespace {

class FailoverTest : public SelectTest {};

TEST_F(FailoverTest, ForceGives503WithoutFailover) {
  balancer_.sticky_session_force = true;
  Add("n1").redirect = "n2";
  Add("n2");
  Fail("n1");
  const std::string cookie = Session("S.n1");
  Decision d = Choose(cookie);
  EXPECT_EQ(Verdict::kForce503, d.verdict);
  EXPECT_EQ(-1, d.member);
  EXPECT_EQ("n1", d.route);
  EXPECT_EQ("n2", Pick(Session("S.n2")));
  EXPECT_EQ(Reason::kBalanced, Choose(Session("S.nobody")).reason) << "a route naming nothing";
  EXPECT_EQ(Reason::kBalanced, Choose(Session("NODOT")).reason);
  EXPECT_EQ("n2", Pick(Session("S.n1; JSESSIONID=T.n2"))) << "later sessions are still tried";
}

TEST_F(FailoverTest, FailoverIsStablePerSession) {
  Add("n1");
  Add("n2");
  Add("n3");
  Add("n4");
  Fail("n1");
  for (int s = 0; s < 50; ++s) {
    const std::string cookie = Session("S" + std::to_string(s) + ".n1");
    const std::string first = Pick(cookie);
    EXPECT_NE("n1", first);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(first, Pick(cookie)) << cookie;
    // Another process (its own Selector) and another load picture agree.
    Selector other(balancer_);
    State("n2").lb_value += 1000;
    SessionCandidate c{std::string_view(cookie).substr(11), "n1"};
    Decision d = other.Select(*zone_, SelectRequest{&c, 1, nullptr, now_, 7});
    EXPECT_EQ(first, Describe(other, d));
  }
}

TEST_F(FailoverTest, FailoverSpreadsEvenly) {
  Add("n1");
  Add("n2");
  Add("n3");
  Fail("n1");
  std::map<std::string, int> count;
  for (int s = 0; s < 300; ++s) ++count[Pick(Session("sess" + std::to_string(s) + ".n1"))];
  EXPECT_EQ(0, count["n1"]);
  EXPECT_NEAR(150, count["n2"], 15);  // ±10%
  EXPECT_NEAR(150, count["n3"], 15);
}

TEST_F(FailoverTest, FailoverFollowsWeights) {
  Add("dead");
  Add("big", 3);
  Add("small", 1);
  Fail("dead");
  std::map<std::string, int> count;
  for (int s = 0; s < 400; ++s) ++count[Pick(Session("w" + std::to_string(s) + ".dead"))];
  EXPECT_NEAR(300, count["big"], 40);
  EXPECT_NEAR(100, count["small"], 40);
}

TEST_F(FailoverTest, FailoverMovesOnlyTheDeadMembersSessions) {
  Add("n1");
  Add("n2");
  Add("n3");
  Add("n4");
  Fail("n1");
  std::vector<std::string> before;
  for (int s = 0; s < 100; ++s) before.push_back(Pick(Session("m" + std::to_string(s) + ".n1")));
  Fail("n4");
  for (int s = 0; s < 100; ++s) {
    const std::string now = Pick(Session("m" + std::to_string(s) + ".n1"));
    if (before[s] != "n4") {
      EXPECT_EQ(before[s], now) << s;
    }
  }
}

TEST_F(FailoverTest, TriedMembersAreNeverPickedAgain) {
  Add("n1");
  Add("n2");
  Add("n3");
  Tried("n1");
  Decision d = Choose(Session("S.n1"));
  EXPECT_NE("n1", Describe(*selector_, d));
  EXPECT_EQ(Reason::kRendezvous, d.reason);
  for (int i = 0; i < 10; ++i) EXPECT_NE("n1", Pick());
  Tried("n2");
  EXPECT_EQ("n3", Pick(Session("S.n1")));
  Tried("n3");
  EXPECT_EQ("none", Pick(Session("S.n1")));
  EXPECT_EQ("none", Pick());
}

TEST_F(FailoverTest, TriedWithForceGives503) {
  balancer_.sticky_session_force = true;
  Add("n1");
  Add("n2");
  Tried("n1");
  EXPECT_EQ("503", Pick(Session("S.n1")));
}

TEST_F(FailoverTest, ErrorMemberRestsThenRecoversLazily) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  EXPECT_EQ("n2", Pick(Session("S.n1")));
  now_ += 59'999;
  EXPECT_EQ("n2", Pick(Session("S.n1")));
  now_ += 1;  // no Maintain(): selection sees the deadline by itself
  EXPECT_EQ("n1", Pick(Session("S.n1")));
  EXPECT_EQ(Health::kOk, State("n1").GetHealth());
}

TEST_F(FailoverTest, RecoveringMemberIsNotFlooded) {
  Add("n1");
  Add("n2");
  Add("n3");
  Build();
  for (int i = 0; i < 30; ++i) Pick();
  Fail("n1");
  now_ += 60'000;
  auto count = NewSessions(30);
  EXPECT_LE(count["n1"], 12) << "it starts at the busiest member's load";
  EXPECT_GE(count["n1"], 8);
}

TEST_F(FailoverTest, NothingUsable) {
  Add("n1");
  Add("n2");
  Fail("n1");
  Fail("n2");
  Decision d = Choose(Session("S.n1"));
  EXPECT_EQ(Verdict::kNone, d.verdict);
  EXPECT_EQ(Reason::kNone, d.reason);
  EXPECT_EQ("none", Pick());
  ForceRecovery(*zone_, now_, nullptr, 0);
  EXPECT_NE("none", Pick());
}

TEST_F(FailoverTest, ZoneOfAnotherBalancerGivesNone) {
  Add("n1");
  Build();
  Balancer other;
  other.members.resize(2);
  other.members[0].name = "a";
  other.members[1].name = "b";
  std::vector<std::uint64_t> mem(ZoneBytes(2) / 8);
  Zone* z = InitZone(mem.data(), ZoneBytes(2), other, now_);
  EXPECT_EQ(Verdict::kNone, selector_->Select(*z, SelectRequest{}).verdict);
  Balancer empty;
  Selector none(empty);
  EXPECT_EQ(Verdict::kNone, none.Select(*z, SelectRequest{}).verdict);
}

TEST_F(FailoverTest, RendezvousHashIsFixed) {
  // Pinned so that a change of hash (which would move every failed-over
  // session between hosts running different versions) is deliberate.
  EXPECT_EQ(RendezvousHash("ABC", "n1"), RendezvousHash("ABC", "n1"));
  EXPECT_NE(RendezvousHash("ABC", "n1"), RendezvousHash("ABC", "n2"));
  EXPECT_NE(RendezvousHash("AB", "Cn1"), RendezvousHash("ABC", "n1"));
  EXPECT_EQ(0xeeaa1cf372fa3948ull, RendezvousHash("ABC", "n1"));
}

// --- allocation -----------------------------------------------------------

TEST_F(FailoverTest, RequestPathAllocatesNothing) {
  Add("n1").domain = "d";
  Add("n2").domain = "d";
  Add("n3").redirect = "n1";
  Add("n4", 1, 1);
  Build();
  Fail("n1");
  const std::string cookies = "a=b; JSESSIONID=\"X.n1\"; JSESSIONID=Y.zz, JSESSIONID=Z.d";
  const std::string uri = "/app;jsessionid=P.n3?q=1";
  std::string_view headers[] = {cookies, cookies};
  SessionCandidate c[kMaxSessionCandidates];
  tried_.assign(TriedWords(4), 0);
  MarkTried(tried_.data(), 2);

  const long before = g_allocations.load();
  std::size_t n = FindSessionCandidates(uri, headers, 2, selector_->session_names(), c,
                                        kMaxSessionCandidates);
  Decision d1 = selector_->Select(*zone_, SelectRequest{c, n, tried_.data(), now_, 3});
  Decision d2 = selector_->Select(*zone_, SelectRequest{nullptr, 0, nullptr, now_, 4});
  Decision d3 = selector_->Select(*zone_, SelectRequest{c + 1, 1, nullptr, now_, 5});
  const long after = g_allocations.load();

  EXPECT_EQ(0, after - before);
  EXPECT_EQ(7u, n);
  EXPECT_EQ(Verdict::kMember, d1.verdict);
  EXPECT_EQ(Verdict::kMember, d2.verdict);
  EXPECT_EQ(Reason::kDomainFailover, d3.reason);
  void* volatile probe = ::operator new(8);  // the counter itself works
  ::operator delete(probe);
  EXPECT_EQ(after + 1, g_allocations.load());
}

}  // namespace
}  // namespace test
}  // namespace sticky

// Counting replacements of the global allocation functions. The unaligned
// forms are enough: nothing here uses over-aligned types. noinline keeps GCC
// from pairing an inlined malloc with an inlined free and warning about it.
#define STICKY_TEST_NOINLINE __attribute__((noinline))
STICKY_TEST_NOINLINE void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
STICKY_TEST_NOINLINE void* operator new[](std::size_t size) { return ::operator new(size); }
STICKY_TEST_NOINLINE void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
STICKY_TEST_NOINLINE void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
STICKY_TEST_NOINLINE void operator delete(void* p) noexcept { std::free(p); }
STICKY_TEST_NOINLINE void operator delete[](void* p) noexcept { std::free(p); }
STICKY_TEST_NOINLINE void operator delete(void* p, std::size_t) noexcept { std::free(p); }
STICKY_TEST_NOINLINE void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
