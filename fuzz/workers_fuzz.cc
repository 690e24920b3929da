// libFuzzer target: the whole workers.properties reader (config.h) on
// arbitrary bytes, the model of the workers included, then what
// configuration time builds from a file nginx accepts: the lb worker a
// `sticky_workers` directive picks, its Selector and a zone. The syntax
// layer alone is properties_fuzz's.
//
//   make fuzz FUZZ_TARGETS=workers
//   build/fuzz/workers_fuzz -dict=fuzz/properties.dict fuzz/corpus/properties
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/model.h"
#include "balancer/select.h"
#include "balancer/session.h"
#include "balancer/state.h"
#include "fake_env.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sticky::EnvLookup env = FakeEnv;
  sticky::Config config = sticky::LoadConfig(text, "fuzz.properties", env);

  for (const sticky::Diagnostic& d : config.diagnostics) Check(d.where.file == "fuzz.properties");

  std::string error;
  const sticky::Balancer* chosen = sticky::SelectBalancer(config, "", &error);
  Check(chosen != nullptr || !error.empty());
  if (!config.ok()) return 0;

  // Everything configuration time does with an accepted file.
  for (const sticky::Balancer& b : config.balancers) {
    Check(sticky::SelectBalancer(config, b.name, &error) != nullptr);
    sticky::Selector selector(b);
    Check(selector.member_count() == b.members.size());
    // Without session sketches (31 KiB a member at the default window): the
    // zone is built as nginx builds it, and the fuzzer's time goes to the
    // reader.
    sticky::HealthOptions options;
    options.sessions_window_minutes = 0;
    std::vector<std::uint64_t> memory(sticky::ZoneBytes(b.members.size(), 0, 0) / 8 + 1);
    sticky::Zone* zone = sticky::InitZone(memory.data(), memory.size() * 8, b, 1000, &options);
    if (zone == nullptr) continue;  // e.g. a worker name over kMaxNameBytes
    // One new session and one sticky session per member's route.
    sticky::SelectRequest request;
    request.now_ms = 1000;
    sticky::Decision d = selector.Select(*zone, request);
    Check(d.verdict != sticky::Verdict::kMember ||
          (d.member >= 0 && static_cast<std::size_t>(d.member) < b.members.size()));
    for (std::size_t i = 0; i < b.members.size() && i < 8; ++i) {
      std::string cookie = "JSESSIONID=ABC." + std::string(selector.route(i));
      std::string_view headers[1] = {cookie};
      sticky::SessionCandidate c[sticky::kMaxSessionCandidates];
      request.candidates = c;
      request.candidate_count = sticky::FindSessionCandidates(
          "/", headers, 1, selector.session_names(), c, sticky::kMaxSessionCandidates);
      d = selector.Select(*zone, request);
      Check(d.verdict != sticky::Verdict::kMember ||
            (d.member >= 0 && static_cast<std::size_t>(d.member) < b.members.size()));
    }
  }
  return 0;
}
