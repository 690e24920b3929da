// Per-member runtime state, kept in a shared memory zone: mapped by the
// nginx master, used by every worker process, and carried across reloads.
//
// The zone is plain old data (no pointers, no C++ objects) with a fixed,
// versioned layout: a Zone header, one MemberState record per member in the
// Balancer's member order (record i is member i), then the process table of
// processes.h (one ProcessSlot per process that may use the zone, and per
// slot the attempts it holds on each member), then one MemberActivity
// record per member (activity.h: minute by minute history and session
// sketches). Records carry the worker name so that a reload can match them
// by name.
//
// Locking is the caller's business: the glue holds the zone lock around every
// call that takes a `Zone&` (and around Select(), which reads it), except
// EndAttempt(), which changes only counters that are atomic. Time is
// always a parameter (`now_ms`, a monotonic clock in milliseconds such as
// ngx_current_msec); 0 means "never" in the time fields.
//
// Three things are kept apart, as HAProxy does: `activation`
// is the administrator's (A/D/S), `health` is what requests taught us, and
// `lbfactor`/`lb_mult`/`lb_value` are weight and load. Health changes only
// through ChangeHealth(), which reports each transition once: its
// vocabulary is in health.h, the machine in health.cc, active probe claims
// in probe.h.
#ifndef STICKY_STATE_H
#define STICKY_STATE_H

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "activity/activity.h"
#include "balancer/counters.h"
#include "balancer/health.h"
#include "config/model.h"

namespace sticky {

// mod_jk limits names to 63 bytes; one more is accepted here.
inline constexpr std::size_t kMaxNameBytes = 64;

struct MemberState {
  char name[kMaxNameBytes];            // worker name, not NUL-terminated when 64 bytes long
  std::uint32_t name_length;
  std::uint8_t activation;             // Activation: in force (an admin may change it)
  std::uint8_t configured_activation;  // Activation: as the file said at the last load
  std::uint8_t health;                 // Health
  std::uint8_t reserved0;
  std::uint32_t lbfactor;              // in force, >= 1
  std::uint32_t configured_lbfactor;   // as the file said at the last load
  std::uint64_t lb_mult;               // LCM(all lbfactors) / lbfactor
  std::uint64_t lb_value;              // load by the balancer's method; lowest wins
  std::uint64_t in_flight;             // attempts started and not ended (atomic: counters.h)
  std::uint64_t first_error_ms;        // first failure of the current error streak
  std::uint64_t last_error_ms;         // latest failure
  std::uint64_t recover_at_ms;         // while ERR: last_error_ms + recover_time
  std::uint64_t requests;              // attempts sent (mod_jk's "elected")
  std::uint64_t requests_at_maintenance;  // `requests` at the last decay, for OK -> OK/IDLE
  std::uint64_t sticky_hits;           // attempts that went to their session's member
  std::uint64_t new_sessions;          // attempts without a session (mod_jk's "sessions")
  std::uint64_t errors;                // failed attempts
  std::uint64_t bytes_sent;            // to the member (atomic: counters.h)
  std::uint64_t bytes_received;        // from the member (atomic: counters.h)

  // status page: activity for the drain view (status_window.h)
  std::uint64_t last_request_ms;       // latest attempt started; 0: none yet
  std::uint64_t sticky_window_epoch;   // 10 s bucket number of the latest sticky hit
  std::uint32_t sticky_window[6];      // sticky hits per 10 s bucket, ring by epoch % 6

  // failure and recovery: probes, reply timeouts, busy, slow start
  std::uint64_t recovered_at_ms;       // back to OK after an error, while slow start lasts; 0: none
  std::uint64_t probe_deadline_ms;     // a probe claim not ended by then is void
  std::uint64_t next_probe_ms;         // the timer may probe the member again from then
  std::uint64_t probes;                // active probes sent
  std::uint64_t probe_failures;        // active probes that failed
  std::uint32_t probe_owner;           // pid of the process probing it (active probe); 0: none
  std::uint32_t busy_limit;            // as the file says; 0: no limit
  std::uint32_t reply_timeouts;        // halved at each decay; ERR above max_reply_timeouts
  std::uint16_t probe_passes;          // probes passed in a row while ERR/PRB
  std::uint16_t probe_fails;           // probes failed in a row while healthy
  std::uint8_t probe_kind;             // ProbeKind: who is testing the member
  std::uint8_t reserved1[3];
  std::uint32_t load_carry;            // slow start: load below one unit, in 1/kMultScale

  std::string_view Name() const noexcept { return std::string_view(name, name_length); }
  Health GetHealth() const noexcept { return static_cast<Health>(health); }
  Activation GetActivation() const noexcept { return static_cast<Activation>(activation); }
};

// Who holds a member's probe claim (MemberState::probe_kind).
enum class ProbeKind : std::uint8_t {
  kNone = 0,
  kRequest = 1,  // a user request picked it in ERR/REC (no probe=): that request is the probe
  kActive = 2,   // the timer of process probe_owner sent an HTTP probe (probe=URI)
};

inline constexpr std::uint32_t kZoneMagic = 0x4b4a5453;  // "STJK" in little-endian memory
// Bump on any change to Zone or MemberState: a reload then starts fresh.
inline constexpr std::uint32_t kZoneLayoutVersion = 4;

// A process that uses the zone (processes.h): the attempts it starts are
// counted in its slot too, so that what it held can be returned if it dies.
struct ProcessSlot {
  std::uint32_t pid;          // 0: the slot is free
  std::uint32_t reserved0;
  std::uint64_t start_token;  // when the process started, as the kernel says; 0: unknown
};

// nginx's own limit on processes (NGX_MAX_PROCESSES).
inline constexpr std::uint32_t kMaxProcessSlots = 1024;

// The zone header; member_count MemberState records follow it directly.
struct Zone {
  std::uint32_t magic;
  std::uint32_t layout_version;
  std::uint32_t member_count;
  std::uint32_t record_size;       // sizeof(MemberState), a second layout check
  std::uint8_t method;             // Method: how lb_value grows
  std::uint8_t reserved0[7];
  std::uint64_t recover_time_ms;   // the balancer's recover_time
  std::uint64_t last_maintenance_ms;
  std::uint64_t rotation;          // advanced by every started attempt: tie-break offset
  // Recovery policy, rewritten from the configuration at every load.
  std::uint64_t error_escalation_ms;  // a local error this old becomes ERR; 0: no local errors
  std::uint64_t slow_start_ms;     // ramp of a recovered member's share; 0: mod_jk's rule
  std::uint64_t probe_interval_ms;
  std::uint64_t probe_timeout_ms;
  std::uint32_t max_reply_timeouts;
  std::uint32_t probe_passes;      // passed probes in a row that end an error
  std::uint32_t probe_fails;       // failed probes in a row that take a member out; 0: off
  std::uint8_t active_probes;      // probe=URI: ERR/REC is tested by probes, not by users
  std::uint8_t reserved1[3];
  std::uint32_t process_capacity;  // ProcessSlot records after the members
  std::uint32_t session_sketches;  // per member: SketchesFor(the sessions window); 0: off
  std::uint64_t processes_checked_ms;  // the latest liveness check of the slots
  std::uint32_t sessions_recorded;  // the minute stamp RecordPastSessions() last ran in
  std::uint32_t reserved2;

  MemberState* records() noexcept;
  const MemberState* records() const noexcept;
  MemberState& record(std::size_t i) noexcept { return records()[i]; }
  const MemberState& record(std::size_t i) const noexcept { return records()[i]; }
  Method GetMethod() const noexcept { return static_cast<Method>(method); }

  ProcessSlot* slots() noexcept;
  const ProcessSlot* slots() const noexcept;
  // Attempts process slot `slot` holds, one count per member.
  std::uint32_t* held(std::size_t slot) noexcept;
  const std::uint32_t* held(std::size_t slot) const noexcept;
  // Member i's minute by minute activity.
  MemberActivity& activity(std::size_t i) noexcept;
  const MemberActivity& activity(std::size_t i) const noexcept;
  std::uint32_t SessionsWindowMinutes() const noexcept {
    return session_sketches == 0 ? 0 : session_sketches - 1;
  }
};

static_assert(std::is_standard_layout_v<MemberState> && std::is_trivially_copyable_v<MemberState>);
static_assert(std::is_standard_layout_v<Zone> && std::is_trivially_copyable_v<Zone>);
static_assert(sizeof(MemberState) == 288 && sizeof(MemberState) % 8 == 0);
static_assert(std::is_standard_layout_v<ProcessSlot> && sizeof(ProcessSlot) == 16);
static_assert(sizeof(Zone) == 120 && sizeof(Zone) % alignof(MemberState) == 0);

// Bytes of the process table: the slots and, per slot, a count per member.
constexpr std::size_t ProcessTableBytes(std::size_t members, std::size_t processes) {
  return processes * sizeof(ProcessSlot) +
         (processes * members * sizeof(std::uint32_t) + 7) / 8 * 8;
}

inline MemberState* Zone::records() noexcept {
  return reinterpret_cast<MemberState*>(reinterpret_cast<unsigned char*>(this) + sizeof(Zone));
}
inline const MemberState* Zone::records() const noexcept {
  return reinterpret_cast<const MemberState*>(reinterpret_cast<const unsigned char*>(this) +
                                              sizeof(Zone));
}

inline ProcessSlot* Zone::slots() noexcept {
  return reinterpret_cast<ProcessSlot*>(records() + member_count);
}
inline const ProcessSlot* Zone::slots() const noexcept {
  return reinterpret_cast<const ProcessSlot*>(records() + member_count);
}
inline std::uint32_t* Zone::held(std::size_t slot) noexcept {
  return reinterpret_cast<std::uint32_t*>(slots() + process_capacity) + slot * member_count;
}
inline const std::uint32_t* Zone::held(std::size_t slot) const noexcept {
  return reinterpret_cast<const std::uint32_t*>(slots() + process_capacity) + slot * member_count;
}
inline MemberActivity& Zone::activity(std::size_t i) noexcept {
  unsigned char* first = reinterpret_cast<unsigned char*>(records() + member_count) +
                         ProcessTableBytes(member_count, process_capacity);
  return *reinterpret_cast<MemberActivity*>(first + i * ActivityBytes(session_sketches));
}
inline const MemberActivity& Zone::activity(std::size_t i) const noexcept {
  return const_cast<Zone*>(this)->activity(i);
}

// Bytes a zone for `members` members, `processes` process slots and a
// sessions window of `window_minutes` (0: sessions not counted) needs.
constexpr std::size_t ZoneBytes(std::size_t members, std::size_t processes = 0,
                                std::uint32_t window_minutes = kDefaultSessionsWindowMinutes) {
  return sizeof(Zone) + members * sizeof(MemberState) + ProcessTableBytes(members, processes) +
         members * ActivityBytes(SketchesFor(window_minutes));
}

// A fresh zone for `balancer` in `memory` (8-byte aligned, at least
// ZoneBytes(members, processes, options->sessions_window_minutes) long):
// every member OK/IDLE with zero load, counters and activity, every process
// slot free. Returns nullptr when the memory is
// too small or misaligned, a member name is longer than kMaxNameBytes or
// `processes` passes kMaxProcessSlots. `options` (nullptr: the defaults) are
// the recovery options of nginx.conf.
Zone* InitZone(void* memory, std::size_t bytes, const Balancer& balancer,
               std::uint64_t now_ms, const HealthOptions* options = nullptr,
               std::size_t processes = 0) noexcept;

// The zone at `memory` if it is one of this layout and fits in `bytes`.
const Zone* ValidZone(const void* memory, std::size_t bytes) noexcept;

struct ReconcileStats {
  std::size_t kept = 0;     // members found by name in the old zone
  std::size_t added = 0;    // members new to the file
  std::size_t removed = 0;  // old records whose member left the file
  bool fresh = false;       // the old zone was missing or of another layout
};

// After a reload: builds the zone for `balancer` in `memory` from the zone
// of the previous configuration at `old_memory` (may be nullptr, may be the
// same memory or overlap it). Records are matched by name: a kept member
// keeps health, error times, load, counters and history (and its session
// sketches while the sessions window is unchanged); a new one starts fresh;
// a removed one is dropped. An attribute the file changed (activation,
// lbfactor) takes the file's value; otherwise a runtime edit is kept.
// In-flight counts start at 0 and the process table empty, because requests
// still running in old worker processes end against the old records; for
// the same reason a probe claim of the old configuration is dropped
// (ERR/PRB -> ERR/REC) and OK/BUSY becomes OK. Configuration time: may
// allocate. Returns nullptr as InitZone() does.
Zone* ReconcileZone(void* memory, std::size_t bytes, const Balancer& balancer,
                    const void* old_memory, std::size_t old_bytes, std::uint64_t now_ms,
                    ReconcileStats* stats = nullptr, const HealthOptions* options = nullptr,
                    std::size_t processes = 0);

// The record index of the worker `name`, or -1.
int FindRecord(const Zone& zone, std::string_view name) noexcept;

// lb_mult = LCM(all lbfactors) / own lbfactor (mod_jk's update_mult). When
// the LCM would pass 2^24 the multipliers are rounded from 2^24 instead, so
// the ratios stay within a fraction of a percent and lb_value cannot wrap.
void RecomputeMultipliers(Zone& zone) noexcept;

// An ERR member whose recover time is over: selection treats it as ERR/REC
// before any tick has moved it there.
inline bool RecoverDue(const MemberState& member, std::uint64_t now_ms) noexcept {
  return member.GetHealth() == Health::kError && now_ms >= member.recover_at_ms;
}
// The highest load value of the zone's members: what a member moved to
// ERR/REC starts from.
inline std::uint64_t MaxLbValue(const Zone& zone) noexcept {
  std::uint64_t max = 0;
  for (std::size_t i = 0; i < zone.member_count; ++i)
    if (zone.record(i).lb_value > max) max = zone.record(i).lb_value;
  return max;
}
// busy_limit reached with `in_flight` attempts on the member.
inline bool BusyWith(const MemberState& member, std::uint64_t in_flight) noexcept {
  return member.busy_limit > 0 && in_flight >= member.busy_limit;
}
inline bool BusyNow(const MemberState& member) noexcept {
  return BusyWith(member, AtomicLoad(member.in_flight));
}
// Health as selection sees it at `now_ms` (RecoverDue -> ERR/REC).
inline Health EffectiveHealth(const MemberState& member, std::uint64_t now_ms) noexcept {
  return RecoverDue(member, now_ms) ? Health::kRecovering : member.GetHealth();
}
// Health lets a request use the member (activation aside): HealthUsable()
// of the EffectiveHealth(), except ERR/REC when active probes test it.
bool MemberUsable(const Zone& zone, const MemberState& member, std::uint64_t now_ms) noexcept;

// The load one unit of work adds, in 1/kMultScale: lb_mult * kMultScale, or
// more while the member is in slow start (times slow_start / time since its
// recovery, at most 100 times), so that its share of new sessions grows
// linearly from about nothing to its weight.
inline constexpr std::uint64_t kMultScale = 1024;
std::uint64_t SlowStartMult(const Zone& zone, const MemberState& member,
                            std::uint64_t now_ms) noexcept;
inline std::uint64_t ScaledMult(const Zone& zone, const MemberState& member,
                                std::uint64_t now_ms) noexcept {
  // lb_mult <= 2^24: no overflow
  if (zone.slow_start_ms == 0 || member.recovered_at_ms == 0) return member.lb_mult * kMultScale;
  return SlowStartMult(zone, member, now_ms);
}

// THE place where health changes (health.cc). Applies `cause` to member
// `index` and returns true (filling *transition when given) only if the
// health state changed; a cause that does not apply to the current state
// changes nothing, except that:
//  - a failure of a member already in ERR moves its error times (mod_jk
//    since 1.2.41 counts recover_time from the last failure);
//  - a connect or read failure of a healthy member while other attempts on
//    it are in flight stays local (first_error_ms is set) until
//    error_escalation_time, and a reply timeout stays local up to
//    max_reply_timeouts (mod_jk's local errors: only that request avoids it).
// The table of transitions is in README.md, "Failure and recovery".
bool ChangeHealth(Zone& zone, std::size_t index, HealthCause cause, std::uint64_t now_ms,
                  Transition* transition = nullptr) noexcept;

// Flags of a started attempt, straight from the selection's Decision.
struct AttemptKind {
  bool sticky_hit = false;   // went to its session's own member
  bool new_session = false;  // the request carried no session id
  std::uint64_t session_hash = 0;  // SessionHash() of its session id; 0: none
};

// No process slot: the attempt is counted in the totals only.
inline constexpr std::size_t kNoProcess = static_cast<std::size_t>(-1);

// An attempt on member `index` starts (nginx: peer.get returned it), in the
// process of slot `process` (processes.h). Counts it, in the member's total
// and in the slot, adds load by the method and advances the rotation. A
// member in ERR/REC (or due for it) becomes ERR/PRB: this attempt is its
// probe, claimed by the slot's process; a member reaching busy_limit becomes
// OK/BUSY. Returns true and fills *transition if health changed.
bool ReportStart(Zone& zone, std::size_t index, AttemptKind kind, std::uint64_t now_ms,
                 Transition* transition = nullptr, std::size_t process = kNoProcess) noexcept;

// The attempt on member `index`, started by the process of slot `process`,
// ended (nginx: peer.free), in two steps so that the common end takes no
// lock.
//
// EndAttempt(), without the zone lock: gives back what the attempt held
// (in_flight, the slot's count) and adds its bytes, by atomic operations
// (counters.h). Returns false when that is the whole end: a success on an
// OK member below its busy_limit, with no error to forget, whose method
// counts load at the start (Request, Session, Next). Otherwise FinishEnd()
// must follow.
bool EndAttempt(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
                std::uint64_t bytes_received, std::size_t process = kNoProcess) noexcept;

// FinishEnd(), zone locked: the rest. `bytes_sent` and `bytes_received` feed
// the Traffic method. Returns true and fills *transition if the outcome
// changed the member's health (at most one change: the outcome's, else
// leaving ERR/PRB or OK/BUSY).
bool FinishEnd(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
               std::uint64_t bytes_received, std::uint64_t now_ms,
               Transition* transition = nullptr) noexcept;

// Both steps, zone locked.
bool ReportEnd(Zone& zone, std::size_t index, Outcome outcome, std::uint64_t bytes_sent,
               std::uint64_t bytes_received, std::uint64_t now_ms,
               Transition* transition = nullptr, std::size_t process = kNoProcess) noexcept;

// The periodic tick (any process may call it; cheap when nothing is due).
// Every call: probe claims past their deadline are dropped (ERR/PRB ->
// ERR/REC), local errors older than error_escalation_time become ERR, ERR
// members whose recover time is over become ERR/REC, and each member's
// requests in flight count in its minute's peak.
// Once per minute: the minutes that ended get their sessions counted from
// their sketches (RecordPastSessions() in activity.h).
// Once per `maintain_seconds` for all processes together (timestamp in the
// header; 0 turns this part off): load decay — lb_value >>= elapsed
// intervals (Request, Session, Traffic), minus the lowest usable value
// (Next), nothing (Busyness) — and OK members without a request since the
// previous decay become OK/IDLE; reply_timeouts decay like lb_value.
// Writes up to `capacity` transitions to `out` (each member changes at most
// once per call, so capacity = member_count is enough) and returns how many
// it wrote.
std::size_t Maintain(Zone& zone, std::uint64_t now_ms, unsigned maintain_seconds,
                     Transition* out, std::size_t capacity) noexcept;

// mod_jk's forced recovery, for when no member is usable: every ERR member
// (and ERR/REC, which users do not get when probes test it) becomes
// ERR/FRC so the next attempt may try it. Reports like Maintain().
std::size_t ForceRecovery(Zone& zone, std::uint64_t now_ms, Transition* out,
                          std::size_t capacity) noexcept;

}  // namespace sticky

#endif  // STICKY_STATE_H
