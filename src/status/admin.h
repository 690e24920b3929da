// Runtime administration of an upstream's members, as mod_jk's status
// worker does it (jk_status.c): change the activation or the lbfactor,
// reset the counters, recover a member in error.
//
// The form parser runs without the zone lock and may allocate. The actions
// work on the shared Zone: the glue holds the zone lock around them; they
// never allocate and never block, so one lock hold covers one action.
// Changes live in the zone: every worker process sees them at once, and a
// reload keeps them (ReconcileZone keeps runtime edits the file did not
// change). A restart starts from the file again.
#ifndef STICKY_ADMIN_H
#define STICKY_ADMIN_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model.h"
#include "balancer/state.h"

namespace sticky {

enum class AdminOp : std::uint8_t { kActivation, kLbfactor, kReset, kRecover };

// lbfactor accepted at runtime.
inline constexpr std::uint32_t kMaxAdminLbfactor = 100000;

// One action, from an application/x-www-form-urlencoded body:
//   upstream=NAME&worker=NAME&activation=A|D|S
//   upstream=NAME&worker=NAME&lbfactor=N
//   upstream=NAME[&worker=NAME]&action=reset      (no worker: all of them)
//   upstream=NAME&worker=NAME&action=recover
struct AdminForm {
  std::string upstream;
  std::string worker;  // empty: every worker (reset only)
  AdminOp op = AdminOp::kReset;
  Activation activation = Activation::kActive;
  std::uint32_t lbfactor = 1;
};

// Parses `body`; false with *error (one sentence) when a field is missing,
// repeated, unknown or has a bad value. Activation accepts A/D/S, mod_jk's
// ACT/DIS/STP and Active/Disabled/Stopped, in any case.
bool ParseAdminForm(std::string_view body, AdminForm* form, std::string* error);

// Decodes one application/x-www-form-urlencoded component ('+' is a space,
// %XX a byte); false on a bad escape.
bool FormDecode(std::string_view in, std::string* out);

// --- actions; zone locked ---------------------------------------------------

// Sets the activation of member `index`. mod_jk: a change resets every
// member's load value to 0 (not with Busyness, where it counts requests in
// flight), so no member is favoured by history. Returns false if it already
// was so.
bool SetActivation(Zone& zone, std::size_t index, Activation activation) noexcept;

// Sets the lbfactor (>= 1) of member `index` and recomputes every
// multiplier. Returns false if it already was so.
bool SetLbfactor(Zone& zone, std::size_t index, std::uint32_t lbfactor) noexcept;

// mod_jk's reset of a member: counters, error times, load value and recent
// activity to zero, state OK/IDLE (HealthCause::kAdminReset). Requests in
// flight stay counted. Returns true (filling *transition) if the state
// changed.
bool ResetMember(Zone& zone, std::size_t index, std::uint64_t now_ms,
                 Transition* transition = nullptr) noexcept;

// mod_jk's recover: a member in ERR becomes ERR/REC at once (the next request
// may try it) with the highest load value, as when its recover_time ends.
// Returns false, changing nothing, for a member not in ERR.
bool RecoverMember(Zone& zone, std::size_t index, std::uint64_t now_ms,
                   Transition* transition = nullptr) noexcept;

}  // namespace sticky

#endif  // STICKY_ADMIN_H
