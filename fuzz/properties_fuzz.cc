// libFuzzer target: the syntax layer of workers.properties (properties.h),
// text to the key/value map mod_jk builds, on arbitrary bytes. What is built
// from the map is workers_fuzz's. One layer a target: libFuzzer's work after
// each input grows with the coverage the input reached, so a target that
// stops at the map runs several times as many inputs.
//
//   make fuzz FUZZ_TARGETS=properties
//   build/fuzz/properties_fuzz -dict=fuzz/properties.dict fuzz/corpus/properties
//
// Beyond "no crash": the map's index agrees with its list (every key once,
// found whole and in pieces), every line number is one of the input's, and
// what the map holds stays within the file and the reader's budget.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/properties.h"
#include "fake_env.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<sticky::Diagnostic> diagnostics;
  const sticky::Properties properties =
      sticky::ReadProperties(text, "fuzz.properties", FakeEnv, &diagnostics);

  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  for (const sticky::Diagnostic& d : diagnostics)
    Check(d.where.file == "fuzz.properties" && d.where.line <= lines && !d.message.empty());

  // The lookup in pieces is tried on the first keys only: a second lookup
  // of every key took 5 % of the time.
  std::size_t held = 0;
  std::size_t pieces_left = 16;
  for (const sticky::Property& p : properties.entries()) {
    Check(!p.key.empty() && p.line >= 1 && p.line <= lines);
    Check(properties.Find(p.key) == &p);
    if (pieces_left > 0 && p.key.size() > 7 && p.key.compare(0, 7, "worker.") == 0) {
      --pieces_left;
      Check(properties.Find({"worker.", p.key.substr(7)}) == &p);
    }
    held += p.key.size() + p.value.size();
  }
  // Keys and values come from the file (a repeated key's values joined by
  // one separator each) or were charged to the budget.
  Check(held <= 2 * size + sticky::BuiltBytesBudget(size));
  return 0;
}
