// Inputs found by `make fuzz` (fuzz/*_fuzz.cc) that broke the core, kept as
// tests once fixed. Each test says which target found it and what went wrong.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/properties.h"

namespace sticky {
namespace {

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

// properties_fuzz, out of memory: worker "template.n1" references
// worker.template, so worker.template.* includes the reference itself. Any
// other worker referencing worker.template copied it as a live reference
// ("worker.n2.n1.reference"), whose resolution copied it again one level
// deeper ("worker.n2.n1.n1.reference", ...) up to 100,000 ever longer keys:
// gigabytes. mod_jk empties a reference once resolved, so the copies are
// inert; ours now are too (properties.cc, Reader::spent_).
TEST(FuzzRegressionTest, CopiedReferenceIsNotResolvedAgain) {
  for (const char* text : {
           // as found (reduced): the self-containing reference comes first
           "worker.template.n1.reference=worker.template\n"
           "worker.n2.reference=worker.template\n",
           // and after the worker that copies it
           "worker.n2.reference=worker.template\n"
           "worker.template.n1.reference=worker.template\n",
           // a chain through a second template
           "worker.template.n1.reference=worker.template\n"
           "worker.t2.reference=worker.template\n"
           "worker.n3.reference=worker.t2\n",
       }) {
    SCOPED_TRACE(text);
    std::vector<Diagnostic> diagnostics;
    auto start = std::chrono::steady_clock::now();
    Properties p = ReadProperties(text, "w.properties", NoEnv, &diagnostics);
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(p.entries().size(), 20u);
    EXPECT_LT(elapsed, std::chrono::seconds(1));
    // mod_jk copies a spent reference (as NULL) but never resolves it.
    EXPECT_EQ(nullptr, p.Find("worker.n2.n1.n1.n1.reference"));
  }
}

// The reduced file of the same crash, through the whole reader.
TEST(FuzzRegressionTest, SelfReferencingTemplateFileLoads) {
  const std::string text =
      "worker.list=lb,status\n"
      "worker.template.n1.reference=worker.template\n"
      "worker.n1.route=node1\n"
      "worker.n2.reference=worker.template\n"
      "worker.n2.activation=D\n"
      "worker.n2.redirect=node1\n"
      "worker.lb.type=lb\n"
      "worker.lb.balance_workers=n1,n2\n"
      "worker.status.type=status\n";
  Config config = LoadConfig(text, "w.properties", NoEnv);
  EXPECT_EQ(1u, config.balancers.size());
}

// properties_fuzz, timeout (over 10 s; 51 s with -O2 once reduced to this):
// a reference to the prefix "worker" copies every worker's keys, references
// included, and each copied reference copies the copies again, until
// 100,000 keys; then every remaining reference scanned all of them again
// (33,341 diagnostics). What references build now has a budget in
// proportion to the file (properties.h, BuiltBytesBudget), and resolving
// stops once the file is refused.
TEST(FuzzRegressionTest, ReferenceThatCopiesItsOwnCopiesStopsEarly) {
  const std::string text =
      "worker.basic.port=8009\n"
      "worker.lb1.reference=worker.basic\n"
      "worker.w11.reference=worker.lb1\n"
      "worker.w12.reference=worker.lb1\n"
      "worker.w21.reference=worker.lb1\n"
      "worker.lb1.reference=worker\n";
  auto start = std::chrono::steady_clock::now();
  Config config = LoadConfig(text, "w.properties", NoEnv);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(config.ok());
  EXPECT_LT(config.diagnostics.size(), 10u);
  bool loop = false;
  for (const Diagnostic& d : config.diagnostics)
    loop = loop || (d.severity == Severity::kError &&
                    d.message.find("is there a loop?") != std::string::npos);
  EXPECT_TRUE(loop);
}

}  // namespace
}  // namespace sticky
