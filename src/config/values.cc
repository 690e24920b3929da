#include "config/values.h"

#include <cctype>
#include <iterator>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <strings.h>

namespace sticky {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [+-]digits and nothing else.
bool IsPlainInteger(std::string_view s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s)
    if (!IsDigit(c)) return false;
  return true;
}

}  // namespace

bool ParseBool(std::string_view text, bool default_value, std::string* problem) {
  std::string s(text);
  char first = s.empty() ? '\0' : s[0];
  if (strcasecmp(s.c_str(), "off") == 0 || first == 'f' || first == 'F' || first == 'n' ||
      first == 'N' || s == "0")
    return false;
  if (strcasecmp(s.c_str(), "on") == 0 || first == 't' || first == 'T' || first == 'y' ||
      first == 'Y' || s == "1")
    return true;
  *problem = std::string("not a boolean (true or false), using the default \"") +
             (default_value ? "true" : "false") + "\"";
  return default_value;
}

int ParseInt(std::string_view text, std::string* problem) {
  std::string digits(text);
  int64_t multiplier = 1;
  if (!digits.empty()) {
    char last = digits.back();
    if (last == 'm' || last == 'M') multiplier = 1024 * 1024;
    if (last == 'k' || last == 'K') multiplier = 1024;
    if (multiplier != 1) digits.pop_back();
  }
  // glibc's atoi() is (int)strtol(s, NULL, 10): long, then cut to int.
  errno = 0;
  long parsed = std::strtol(digits.c_str(), nullptr, 10);
  bool overflow = errno == ERANGE;
  auto as_int = static_cast<int32_t>(static_cast<uint32_t>(parsed));
  int64_t product = static_cast<int64_t>(as_int) * multiplier;
  auto result = static_cast<int32_t>(static_cast<uint32_t>(product));

  if (!IsPlainInteger(digits))
    *problem = "not a number, mod_jk reads it as " + std::to_string(result);
  else if (overflow || as_int != parsed || product != result)
    *problem = "out of range, mod_jk reads it as " + std::to_string(result);
  return result;
}

Method ParseMethod(std::string_view text, std::string* problem) {
  switch (text.empty() ? '\0' : text[0]) {
    case 'r': case 'R': case '0': return Method::kRequest;
    case 't': case 'T': case '1': return Method::kTraffic;
    case 'b': case 'B': case '2': return Method::kBusyness;
    case 's': case 'S': case '3': return Method::kSession;
    case 'n': case 'N': case '4': return Method::kNext;
  }
  *problem = "unknown method (Request, Traffic, Busyness, Session or Next), "
             "using the default \"Request\"";
  return Method::kRequest;
}

Lock ParseLock(std::string_view text, std::string* problem) {
  switch (text.empty() ? '\0' : text[0]) {
    case 'o': case 'O': case '0': return Lock::kOptimistic;
    case 'p': case 'P': case '1': return Lock::kPessimistic;
  }
  *problem = "unknown lock (Optimistic or Pessimistic), using the default \"Optimistic\"";
  return Lock::kOptimistic;
}

Activation ParseActivation(std::string_view text, std::string* problem) {
  switch (text.empty() ? '\0' : text[0]) {
    case 'a': case 'A': case '0': return Activation::kActive;
    case 'd': case 'D': case '1': return Activation::kDisabled;
    case 's': case 'S': case '2': return Activation::kStopped;
  }
  *problem = "unknown activation (Active, Disabled or Stopped), using the default \"Active\"";
  return Activation::kActive;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find_first_not_of(" \t,", pos);
    if (start == std::string_view::npos) break;
    size_t end = text.find_first_of(" \t,", start);
    if (end == std::string_view::npos) end = text.size();
    words.emplace_back(text.substr(start, end - start));
    pos = end;
  }
  return words;
}

// The names mod_jk 1.2.48's status worker shows (jk_lb_worker.h).
const char* MethodName(Method method) {
  switch (method) {
    case Method::kRequest: return "Request";
    case Method::kTraffic: return "Traffic";
    case Method::kBusyness: return "Busyness";
    case Method::kSession: return "Sessions";
    case Method::kNext: return "Next";
  }
  return "Request";
}

const char* LockName(Lock lock) {
  return lock == Lock::kPessimistic ? "Pessimistic" : "Optimistic";
}

namespace {

// In the order of enum Activation.
constexpr ActivationNames kActivationNames[] = {{"A", "ACT", "Active", "active"},
                                                {"D", "DIS", "Disabled", "drained"},
                                                {"S", "STP", "Stopped", "stopped"}};

}  // namespace

bool EqualsIgnoringCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

const ActivationNames& NamesOf(Activation activation) noexcept {
  const auto index = static_cast<size_t>(activation);
  return kActivationNames[index < std::size(kActivationNames) ? index : 2];
}

bool FindActivation(std::string_view text, Activation* out) noexcept {
  for (size_t i = 0; i < std::size(kActivationNames); ++i) {
    const ActivationNames& names = kActivationNames[i];
    if (EqualsIgnoringCase(text, names.letter) || EqualsIgnoringCase(text, names.jk) ||
        EqualsIgnoringCase(text, names.name)) {
      *out = static_cast<Activation>(i);
      return true;
    }
  }
  return false;
}

}  // namespace sticky
