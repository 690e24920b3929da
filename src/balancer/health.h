// The vocabulary of the failure and recovery state machine: mod_jk's runtime
// states, the causes of a change, what an attempt or a probe reports, and
// the options that shape recovery. Pure values: the machine itself works on
// the shared zone (ChangeHealth() and friends in state.h, implemented in
// health.cc; active probes in probe.h).
//
// mod_jk's runtime states (jk_lb_worker.c) are the model. What differs on
// purpose (README, "Failure and recovery"): only an attempt made as a test (a probe request, a probe, a
// forced recovery) ends an error, not a request that started before it; the
// local-error rule applies to healthy members only; ERR/REC is not given to
// users when active probes test it instead.
#ifndef STICKY_HEALTH_H
#define STICKY_HEALTH_H

#include <cstddef>
#include <cstdint>

#include "activity/activity.h"

namespace sticky {

// mod_jk's runtime states with mod_jk's numbers (jk_lb_worker.h), so status
// output and scripts written for jkstatus read the same values.
enum class Health : std::uint8_t {
  kOkIdle = 0,          // OK/IDLE: fine, no request since the last maintenance
  kOk = 1,              // OK
  kRecovering = 2,      // ERR/REC: recover_time passed, the next request (or probe) tests it
  kForcedRecovery = 3,  // ERR/FRC: nothing else was usable, so it is tried again
  kBusy = 4,            // OK/BUSY: alive but at busy_limit requests in flight; not usable
  kError = 5,           // ERR: failed; rests until recover_at_ms
  kProbing = 6,         // ERR/PRB: one request or probe is testing it; not usable
};

// Why health changed: one cause per event the glue, the timer or a probe
// can observe. Each transition is logged once with its cause.
enum class HealthCause : std::uint8_t {
  kRequestSucceeded,     // a response came back
  kConnectFailed,        // no connection (refused, timed out)
  kReadFailed,           // the connection broke or the reply was invalid
  kRecoverTimer,         // ERR and now >= recover_at_ms
  kForcedRecovery,       // nothing was usable, every ERR member is tried again
  kIdle,                 // OK but no request since the last maintenance
  kReplyTimeout,         // a reply timeout, and more than max_reply_timeouts of them
  kFailOnStatus,         // a status in the member's positive fail_on_status
  kLocalErrorEscalated,  // a local error lasted error_escalation_time
  kBusy,                 // requests in flight reached busy_limit
  kNotBusy,              // requests in flight fell below busy_limit
  kProbeRequest,         // ERR/REC chosen for a request: that request is the probe
  kProbeSent,            // the timer sent an active probe (probe=URI)
  kProbePassed,          // the probe answered 2xx/3xx
  kProbeFailed,          // the probe failed: the recover timer starts again
  kProbeLost,            // the probe ended without a verdict (client gone, process gone)
  kHealthProbeFailed,    // probe_fails probes in a row failed on a healthy member
  kAdminReset,           // an administrator reset the member (status page): OK/IDLE
};

// What the glue reports at the end of one attempt on a member.
enum class Outcome : std::uint8_t {
  kSuccess,        // a response was received, and fail_on_status does not object
  kConnectFailed,  // refused or timed out before the request went out
  kReadFailed,     // the connection broke, or the reply was invalid
  kNeutral,        // says nothing about the member (client gave up, a negative fail_on_status)
  kReplyTimeout,   // no reply in time (proxy_read_timeout, worker.X.reply_timeout)
  kFailOnStatus,   // the status is in the member's positive fail_on_status
};

// One health change, for one log line.
struct Transition {
  std::uint32_t member = 0;
  Health from = Health::kOkIdle;
  Health to = Health::kOkIdle;
  HealthCause cause = HealthCause::kRequestSucceeded;
};

// Names as mod_jk's status worker prints them ("OK/IDLE", "ERR/REC", ...).
const char* HealthName(Health health) noexcept;
const char* HealthCauseName(HealthCause cause) noexcept;

// Health a request may use (mod_jk's JK_WORKER_USABLE): OK/IDLE, OK,
// ERR/REC, ERR/FRC. With active probes ERR/REC is not given to users:
// see MemberUsable() in state.h.
bool HealthUsable(Health health) noexcept;
// ERR, ERR/REC, ERR/PRB, ERR/FRC.
bool IsErrorFamily(Health health) noexcept;

// How a member's fail_on_status judges a response status: a listed code
// puts the member into error, a listed negative code only fails the request.
enum class StatusVerdict : std::uint8_t {
  kPass,         // not listed: the member answered
  kFailMember,   // listed positive: the member goes to ERR
  kFailRequest,  // listed negative: only this request fails over
};
StatusVerdict ClassifyStatus(const int* fail_on_status, std::size_t count, int status) noexcept;

// Options of `sticky_workers FILE probe=URI ...` in nginx.conf that shape
// the zone (recovery, probes, the sessions window), not from
// workers.properties. Times in milliseconds.
struct HealthOptions {
  bool active_probes = false;          // probe=URI: the timer tests recovering members
  std::uint64_t probe_interval_ms = 5000;
  std::uint64_t probe_timeout_ms = 5000;
  std::uint32_t probe_passes = 1;      // passed probes in a row that end an error
  // Failed probes in a row that take a healthy member out; 0: healthy
  // members are not probed.
  std::uint32_t probe_fails = 0;
  std::uint64_t slow_start_ms = 0;     // 0: mod_jk's rule (the load value starts at the maximum)
  // Sessions are counted over this many minutes (activity.h); 0: not counted.
  std::uint32_t sessions_window_minutes = kDefaultSessionsWindowMinutes;
};

}  // namespace sticky

#endif  // STICKY_HEALTH_H
