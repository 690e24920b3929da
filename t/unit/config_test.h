// Shared fixture of the config tests: Load() a workers.properties text, then
// look at lb workers, members and diagnostics by name.
#ifndef STICKY_CONFIG_TEST_H
#define STICKY_CONFIG_TEST_H

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace sticky {

class ConfigTest : public ::testing::Test {
 protected:
  void Load(const std::string& text) {
    EnvLookup env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    config_ = LoadConfig(text, "w.properties", env);
  }

  // Paths are relative to t/unit, where the tests run.
  void LoadFile(const std::string& path) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot open " << path;
    std::stringstream text;
    text << in.rdbuf();
    config_ = LoadConfig(text.str(), path, ProcessEnvironment());
  }

  const Balancer& Lb(const std::string& name) const {
    for (const Balancer& b : config_.balancers)
      if (b.name == name) return b;
    ADD_FAILURE() << "no lb worker " << name;
    static const Balancer none;
    return none;
  }

  const Member& MemberOf(const std::string& lb, const std::string& name) const {
    for (const Member& m : Lb(lb).members)
      if (m.name == name) return m;
    ADD_FAILURE() << "no member " << name << " in " << lb;
    static const Member none;
    return none;
  }

  std::vector<std::string> MemberNames(const std::string& lb) const {
    std::vector<std::string> names;
    for (const Member& m : Lb(lb).members) names.push_back(m.name);
    return names;
  }

  std::vector<std::string> Messages(Severity severity) const {
    std::vector<std::string> messages;
    for (const Diagnostic& d : config_.diagnostics)
      if (d.severity == severity) messages.push_back(d.message);
    return messages;
  }
  std::vector<std::string> Errors() const { return Messages(Severity::kError); }
  std::vector<std::string> Warnings() const { return Messages(Severity::kWarning); }
  std::vector<std::string> Notices() const { return Messages(Severity::kNotice); }

  // The first diagnostic whose message contains `text`.
  const Diagnostic* Find(const std::string& text) const {
    for (const Diagnostic& d : config_.diagnostics)
      if (d.message.find(text) != std::string::npos) return &d;
    return nullptr;
  }

  std::map<std::string, std::string> env_;
  Config config_;
};

// An lb "lb" with two members; tests add lines to it.
constexpr const char kTwoMembers[] =
    "worker.list=lb\n"
    "worker.lb.type=lb\n"
    "worker.lb.balance_workers=n1,n2\n"
    "worker.n1.host=h1\n"
    "worker.n2.host=h2\n";

}  // namespace sticky

#endif  // STICKY_CONFIG_TEST_H
