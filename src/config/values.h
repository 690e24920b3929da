// Value parsing exactly as mod_jk 1.2.48 does it (jk_map.c, jk_util.c,
// jk_lb_worker.c). Each parser returns what mod_jk would use and, when the
// text is not a clean value of its kind, sets *problem to a short phrase
// saying what is wrong and what mod_jk makes of it (for a diagnostic).
#ifndef STICKY_VALUES_H
#define STICKY_VALUES_H

#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace sticky {

// jk_get_bool_code: false is "off" (any case), anything starting with f F n
// N, or exactly "0"; true is "on", anything starting with t T y Y, or exactly
// "1"; anything else is `default_value`.
bool ParseBool(std::string_view text, bool default_value, std::string* problem);

// jk_map_get_int: a last character k/K or m/M multiplies by 1024 or 1024²,
// the rest goes through atoi(), so "12abc" is 12 and "abc" is 0 (not the
// default: mod_jk 1.2.48 shows retries=abc as 1, i.e. 0 raised to the
// minimum). Overflow wraps as it does in mod_jk's 32-bit int.
int ParseInt(std::string_view text, std::string* problem);

// First character only: R T B S N or 0-4 (default Request).
Method ParseMethod(std::string_view text, std::string* problem);
// O P or 0 1 (default Optimistic).
Lock ParseLock(std::string_view text, std::string* problem);
// A D S or 0 1 2 (default Active).
Activation ParseActivation(std::string_view text, std::string* problem);

// ASCII letters compared without their case.
bool EqualsIgnoringCase(std::string_view a, std::string_view b) noexcept;

// jk_map_get_string_list: the words between runs of ' ', '\t' and ','.
std::vector<std::string> SplitList(std::string_view text);

// Names for messages: "Request", "Optimistic", ...
const char* MethodName(Method method);
const char* LockName(Lock lock);

// The names of an activation, all in one place.
struct ActivationNames {
  const char* letter;  // "A": the status page, its form, JSON
  const char* jk;      // "ACT": mod_jk's status worker, JK_LB_ACTIVATION over AJP
  const char* name;    // "Active": workers.properties, messages
  const char* word;    // "active": the page's word for an operator
};
const ActivationNames& NamesOf(Activation activation) noexcept;
// The activation whose letter, mod_jk name or name is `text` (any case), as
// a status form may give it; false when none is.
bool FindActivation(std::string_view text, Activation* out) noexcept;

}  // namespace sticky

#endif  // STICKY_VALUES_H
