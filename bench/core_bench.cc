// Google Benchmark of the core's request path and of configuration loading.
//
//   make bench-core      (builds build/bench/core_bench against the core
//                         archive and runs it; `make bench` runs it too)
//
// BM_Decision/N   one route decision as the glue makes it per attempt:
//                 FindSessionCandidates() on the request's raw URI and Cookie
//                 header, then Selector::Select() on a zone of N members.
//                 The requests mix sticky sessions of every member (90 %)
//                 and new sessions (10 %), with other cookies around;
//                 new%=0 and new%=100 show either path alone.
// BM_FindSessions FindSessionCandidates() alone.
// BM_Select/N     Select() alone, on candidates found beforehand.
// BM_Request/N    a whole attempt: decision + ReportStart + ReportEnd (the
//                 zone's load values move, as under traffic).
// BM_LoadConfig/N LoadConfig() of a generated N-worker workers.properties.
//
// Every benchmark reports allocs/op: global operator new is replaced in this
// binary and counts every call (the request path must allocate nothing).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/model.h"
#include "balancer/select.h"
#include "balancer/session.h"
#include "balancer/state.h"

// --- allocation counter -------------------------------------------------------

namespace {
std::uint64_t g_allocations = 0;

void* Allocate(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* AllocateAligned(std::size_t n, std::align_val_t a) {
  ++g_allocations;
  std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return Allocate(n); }
void* operator new[](std::size_t n) { return Allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n, std::align_val_t a) { return AllocateAligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return AllocateAligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

// --- fixtures -------------------------------------------------------------------

constexpr std::uint64_t kNow = 1'000'000;
constexpr std::size_t kRequests = 4096;  // distinct requests cycled through

std::string MemberName(std::size_t i) { return "tomcat" + std::to_string(i + 1); }

sticky::Balancer MakeBalancer(std::size_t members) {
  sticky::Balancer b;
  b.name = "lb";
  for (std::size_t i = 0; i < members; ++i) {
    sticky::Member m;
    m.name = MemberName(i);
    m.host = "127.0.0.1";
    m.port = 8000 + static_cast<int>(i);
    m.lbfactor = 1 + static_cast<int>(i % 3);
    b.members.push_back(m);
  }
  return b;
}

// A request as the glue sees it: the raw URI and the Cookie header values.
struct Request {
  std::string uri;
  std::vector<std::string> cookies;
  std::vector<std::string_view> views;
};

// `new_percent` of the requests carry no session (a new session).
std::vector<Request> MakeRequests(std::size_t members, int new_percent) {
  std::mt19937_64 rng(42);
  std::vector<Request> requests(kRequests);
  for (Request& r : requests) {
    r.uri = "/shop/cart.jsp?item=" + std::to_string(rng() % 1000);
    char id[33];
    std::snprintf(id, sizeof id, "%016llX%016llX", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    if (static_cast<int>(rng() % 100) < new_percent) {
      r.cookies.push_back("_ga=GA1.1.1234567890.1700000000; lang=en");  // a new session
    } else {
      r.cookies.push_back("_ga=GA1.1.1234567890.1700000000; JSESSIONID=" + std::string(id) + "." +
                          MemberName(rng() % members) + "; lang=en");
    }
  }
  for (Request& r : requests)
    for (const std::string& c : r.cookies) r.views.push_back(c);
  return requests;
}

struct World {
  World(std::size_t members, int new_percent)
      : balancer(MakeBalancer(members)), selector(balancer),
        memory(sticky::ZoneBytes(members) / 8 + 1), requests(MakeRequests(members, new_percent)) {
    zone = sticky::InitZone(memory.data(), memory.size() * 8, balancer, kNow);
    if (zone == nullptr) std::abort();
  }
  sticky::Balancer balancer;
  sticky::Selector selector;
  std::vector<std::uint64_t> memory;
  sticky::Zone* zone = nullptr;
  std::vector<Request> requests;
};

void ReportAllocations(benchmark::State& state, std::uint64_t before) {
  state.counters["allocs/op"] = benchmark::Counter(
      static_cast<double>(g_allocations - before) / static_cast<double>(state.iterations()));
}

// --- request time ---------------------------------------------------------------

// The candidates of one request, in storage left uninitialized as the C face
// leaves it: an array of SessionCandidate would be zeroed per request.
using CandidateRoom = sticky::Uninitialized<sticky::SessionCandidate, sticky::kMaxSessionCandidates>;

void BM_Decision(benchmark::State& state) {
  World w(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1)));
  const sticky::SessionNames names = w.selector.session_names();
  std::uint64_t tried[sticky::TriedWords(1000)] = {};
  std::size_t i = 0;
  std::uint64_t before = g_allocations;
  for (auto _ : state) {
    const Request& r = w.requests[i++ % kRequests];
    CandidateRoom room;
    sticky::SessionCandidate* c = room.data();
    std::size_t n = sticky::FindSessionCandidates(r.uri, r.views.data(), r.views.size(), names, c,
                                                  sticky::kMaxSessionCandidates);
    sticky::SelectRequest req{c, n, tried, kNow, w.zone->rotation};
    sticky::Decision d = w.selector.Select(*w.zone, req);
    benchmark::DoNotOptimize(d);
  }
  ReportAllocations(state, before);
}

void BM_FindSessions(benchmark::State& state) {
  World w(3, static_cast<int>(state.range(1)));
  const sticky::SessionNames names = w.selector.session_names();
  std::size_t i = 0;
  std::uint64_t before = g_allocations;
  for (auto _ : state) {
    const Request& r = w.requests[i++ % kRequests];
    CandidateRoom room;
    sticky::SessionCandidate* c = room.data();
    std::size_t n = sticky::FindSessionCandidates(r.uri, r.views.data(), r.views.size(), names, c,
                                                  sticky::kMaxSessionCandidates);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(c);
  }
  ReportAllocations(state, before);
}

void BM_Select(benchmark::State& state) {
  World w(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1)));
  const sticky::SessionNames names = w.selector.session_names();
  struct Found {  // made before the timed loop
    sticky::SessionCandidate c[sticky::kMaxSessionCandidates];
    std::size_t n;
  };
  std::vector<Found> found(kRequests);
  for (std::size_t k = 0; k < kRequests; ++k) {
    const Request& r = w.requests[k];
    found[k].n = sticky::FindSessionCandidates(r.uri, r.views.data(), r.views.size(), names,
                                               found[k].c, sticky::kMaxSessionCandidates);
  }
  std::uint64_t tried[sticky::TriedWords(1000)] = {};
  std::size_t i = 0;
  std::uint64_t before = g_allocations;
  for (auto _ : state) {
    const Found& f = found[i++ % kRequests];
    sticky::SelectRequest req{f.c, f.n, tried, kNow, w.zone->rotation};
    sticky::Decision d = w.selector.Select(*w.zone, req);
    benchmark::DoNotOptimize(d);
  }
  ReportAllocations(state, before);
}

void BM_Request(benchmark::State& state) {
  World w(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1)));
  const sticky::SessionNames names = w.selector.session_names();
  std::uint64_t tried[sticky::TriedWords(1000)] = {};
  std::size_t i = 0;
  std::uint64_t before = g_allocations;
  for (auto _ : state) {
    const Request& r = w.requests[i++ % kRequests];
    CandidateRoom room;
    sticky::SessionCandidate* c = room.data();
    std::size_t n = sticky::FindSessionCandidates(r.uri, r.views.data(), r.views.size(), names, c,
                                                  sticky::kMaxSessionCandidates);
    sticky::SelectRequest req{c, n, tried, kNow, w.zone->rotation};
    sticky::Decision d = w.selector.Select(*w.zone, req);
    if (d.verdict == sticky::Verdict::kMember) {
      sticky::ReportStart(*w.zone, d.member, d.Kind(), kNow);
      sticky::ReportEnd(*w.zone, d.member, sticky::Outcome::kSuccess, 400, 2000, kNow);
    }
    benchmark::DoNotOptimize(d);
  }
  ReportAllocations(state, before);
}

// --- configuration time -----------------------------------------------------------

std::string WorkersFile(std::size_t members) {
  std::string text = "worker.list=lb,status\nworker.maintain=60\n";
  text += "worker.template.type=ajp13\nworker.template.host=127.0.0.1\n"
          "worker.template.socket_connect_timeout=2000\nworker.template.lbfactor=1\n";
  text += "worker.lb.type=lb\nworker.lb.sticky_session=true\nworker.lb.method=B\n";
  for (std::size_t i = 0; i < members; ++i) {
    std::string w = "worker." + MemberName(i);
    text += "worker.lb.balance_workers=" + MemberName(i) + "\n";
    text += w + ".reference=worker.template\n";
    text += w + ".port=" + std::to_string(10000 + i) + "\n";
    text += w + ".route=" + MemberName(i) + "\n";
    text += w + ".lbfactor=" + std::to_string(1 + i % 4) + "\n";
    text += w + ".domain=rack" + std::to_string(i % 10) + "\n";
  }
  text += "worker.status.type=status\n";
  return text;
}

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

void BM_LoadConfig(benchmark::State& state) {
  const std::string text = WorkersFile(static_cast<std::size_t>(state.range(0)));
  const sticky::EnvLookup env = NoEnv;
  {
    sticky::Config check = sticky::LoadConfig(text, "bench.properties", env);
    if (!check.ok() || check.balancers.size() != 1 ||
        check.balancers[0].members.size() != static_cast<std::size_t>(state.range(0))) {
      state.SkipWithError("the generated file does not load");
      return;
    }
  }
  std::uint64_t before = g_allocations;
  for (auto _ : state) {
    sticky::Config config = sticky::LoadConfig(text, "bench.properties", env);
    benchmark::DoNotOptimize(config);
  }
  ReportAllocations(state, before);
  state.counters["bytes"] = static_cast<double>(text.size());
}

// {members, % new sessions}: the 10 % mix is the headline; 0 and 100 show
// the sticky path (a route lookup) and the balancing path (a scan) apart.
void Mixes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"members", "new%"});
  for (int members : {3, 100, 1000})
    for (int new_percent : {10, 0, 100}) b->Args({members, new_percent});
}

BENCHMARK(BM_Decision)->Apply(Mixes);
BENCHMARK(BM_FindSessions)->Args({0, 10})->Args({0, 0})->Args({0, 100});
BENCHMARK(BM_Select)->Apply(Mixes);
BENCHMARK(BM_Request)->Apply(Mixes);
BENCHMARK(BM_LoadConfig)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
