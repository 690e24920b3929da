// libFuzzer target: session and route extraction (session.h) and the
// selection (select.h) on a small zone, with any request bytes.
//
// Input layout: byte 0 picks the balancer's options (sticky_session_force,
// custom cookie/path names); bytes 1..6 set the members' health and
// activation in the zone; the rest is split at '\n': the first line is the
// raw URI, each further line the raw value of one Cookie header (at most 32,
// as the glue passes). Every view the core returns must point into the input.
//
//   make fuzz                      (builds build/fuzz/session_fuzz, runs it)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "balancer/select.h"
#include "balancer/session.h"
#include "balancer/state.h"

namespace {

constexpr std::size_t kMaxHeaders = 32;  // ngx_http_sticky_find_sessions()
constexpr std::size_t kMembers = 6;

void Check(bool ok) {
  if (!ok) std::abort();
}

sticky::Balancer MakeBalancer(std::uint8_t options) {
  sticky::Balancer b;
  b.name = "lb";
  b.sticky_session_force = (options & 1) != 0;
  b.sticky_session = (options & 2) == 0;
  if (options & 4) b.session_cookie = "sid";
  if (options & 8) b.session_path = ";sid";
  b.method = static_cast<sticky::Method>((options >> 4) % 5);
  const char* names[kMembers] = {"tomcat1", "tomcat2", "tomcat3", "d1.w1", "d1.w2", "spare"};
  for (std::size_t i = 0; i < kMembers; ++i) {
    sticky::Member m;
    m.name = names[i];
    m.host = "127.0.0.1";
    m.port = 8000 + static_cast<int>(i);
    m.lbfactor = static_cast<int>(i % 3) + 1;
    m.distance = i == 5 ? 1 : 0;
    b.members.push_back(m);
  }
  b.members[0].redirect = "tomcat2";
  b.members[1].domain = "east";
  b.members[2].domain = "east";
  b.members[5].activation = sticky::Activation::kDisabled;
  return b;
}

struct World {
  explicit World(std::uint8_t options)
      : balancer(MakeBalancer(options)), selector(balancer),
        memory(sticky::ZoneBytes(kMembers) / 8 + 1) {
    zone = sticky::InitZone(memory.data(), memory.size() * 8, balancer, 1000);
    Check(zone != nullptr);
    pristine.assign(memory.begin(), memory.end());
  }
  sticky::Balancer balancer;
  sticky::Selector selector;
  std::vector<std::uint64_t> memory;
  std::vector<std::uint64_t> pristine;
  sticky::Zone* zone = nullptr;
};

bool Within(std::string_view part, const char* begin, const char* end) {
  return part.data() >= begin && part.data() + part.size() <= end;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 + kMembers) return 0;
  static std::unique_ptr<World> worlds[256];
  std::unique_ptr<World>& slot = worlds[data[0]];
  if (!slot) slot = std::make_unique<World>(data[0]);
  World& w = *slot;
  std::memcpy(w.memory.data(), w.pristine.data(), w.pristine.size() * 8);
  for (std::size_t i = 0; i < kMembers; ++i) {
    sticky::MemberState& m = w.zone->record(i);
    std::uint8_t b = data[1 + i];
    m.health = b % 7;                  // every Health value
    m.activation = (b >> 3) % 3;       // Active, Disabled, Stopped
    m.lb_value = (b >> 5) * 1000u;
    if (m.health == static_cast<std::uint8_t>(sticky::Health::kError)) {
      m.last_error_ms = m.first_error_ms = 900;
      m.recover_at_ms = (b & 0x80) ? 500 : 100000;  // recover due, or not
    }
  }

  // A copy of exactly the request bytes, so that ASan sees any over-read.
  const char* rest = reinterpret_cast<const char*>(data) + 1 + kMembers;
  std::size_t rest_size = size - 1 - kMembers;
  std::unique_ptr<char[]> request(new char[rest_size ? rest_size : 1]);
  if (rest_size) std::memcpy(request.get(), rest, rest_size);
  const char* begin = request.get();
  const char* end = begin + rest_size;

  std::string_view parts[1 + kMaxHeaders];
  std::size_t nparts = 0;
  const char* p = begin;
  while (nparts < 1 + kMaxHeaders) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) {
      parts[nparts++] = std::string_view(p, end - p);
      break;
    }
    parts[nparts++] = std::string_view(p, nl - p);
    p = nl + 1;
  }
  std::string_view uri = parts[0];
  const std::string_view* headers = parts + 1;
  std::size_t nheaders = nparts - 1;

  sticky::SessionCandidate c[sticky::kMaxSessionCandidates];
  std::size_t n = sticky::FindSessionCandidates(uri, headers, nheaders, w.selector.session_names(),
                                                c, sticky::kMaxSessionCandidates);
  Check(n <= sticky::kMaxSessionCandidates);
  for (std::size_t i = 0; i < n; ++i) {
    Check(!c[i].id.empty() && Within(c[i].id, begin, end));
    Check(c[i].route.empty() || Within(c[i].route, c[i].id.data(), c[i].id.data() + c[i].id.size()));
    Check(c[i].route == sticky::SessionRoute(c[i].id));
  }

  std::uint64_t tried[sticky::TriedWords(kMembers)] = {};
  for (int attempt = 0; attempt < 3; ++attempt) {
    sticky::SelectRequest req{c, n, tried, 2000, w.zone->rotation + attempt};
    sticky::Decision d = w.selector.Select(*w.zone, req);
    Check(d.route.empty() || Within(d.route, begin, end));
    Check(d.session_id.empty() || Within(d.session_id, begin, end));
    if (d.verdict != sticky::Verdict::kMember) break;
    Check(d.member >= 0 && static_cast<std::size_t>(d.member) < kMembers);
    Check(!sticky::WasTried(tried, d.member));
    Check(w.zone->record(d.member).activation !=
          static_cast<std::uint8_t>(sticky::Activation::kStopped));
    sticky::MarkTried(tried, d.member);
  }
  return 0;
}
