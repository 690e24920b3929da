// The environment the workers.properties targets read $(name) from: fixed,
// so that a run does not depend on the machine's.
#ifndef STICKY_FUZZ_FAKE_ENV_H
#define STICKY_FUZZ_FAKE_ENV_H

#include <optional>
#include <string>

inline std::optional<std::string> FakeEnv(const std::string& name) {
  if (name == "HOST") return std::string("127.0.0.1");
  if (name == "PORT") return std::string("8009");
  if (name == "ROUTE") return std::string("node1");
  if (name == "EMPTY") return std::string();
  if (name == "SELF") return std::string("$(SELF)");  // no recursion expected
  return std::nullopt;
}

#endif  // STICKY_FUZZ_FAKE_ENV_H
