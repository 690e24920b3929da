// Inputs found by `make fuzz` (fuzz/*_fuzz.cc) that broke the core, kept as
// tests once fixed. Each test says which target found it and what went wrong.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "properties.h"

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

}  // namespace
}  // namespace sticky
