#include "status/admin.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "balancer/counters.h"
#include "config/message.h"
#include "config/values.h"
#include "status/status_window.h"

namespace sticky {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseLbfactor(std::string_view v, std::uint32_t* out) {
  if (v.empty() || v.size() > 9) return false;
  std::uint32_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (n < 1 || n > kMaxAdminLbfactor) return false;
  *out = n;
  return true;
}

void ResetLoadValues(Zone& zone) {
  if (zone.GetMethod() == Method::kBusyness) return;
  for (std::size_t i = 0; i < zone.member_count; ++i) zone.record(i).lb_value = 0;
}

}  // namespace

bool FormDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool ParseAdminForm(std::string_view body, AdminForm* form, std::string* error) {
  *form = AdminForm{};
  bool seen_upstream = false, seen_worker = false;
  int operations = 0;
  std::string key, value;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (!FormDecode(pair.substr(0, eq), &key) ||
        !FormDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                    &value)) {
      *error = "invalid %-escape in the form";
      return false;
    }
    if (key == "upstream" || key == "worker") {
      bool& seen = key == "upstream" ? seen_upstream : seen_worker;
      if (seen) {
        *error = "the field \"" + key + "\" is repeated";
        return false;
      }
      seen = true;
      (key == "upstream" ? form->upstream : form->worker) = value;
    } else if (key == "activation") {
      ++operations;
      form->op = AdminOp::kActivation;
      if (!FindActivation(value, &form->activation)) {
        *error = Message({"invalid activation ", Quoted(value, 64), ": use A, D or S"});
        return false;
      }
    } else if (key == "lbfactor") {
      ++operations;
      form->op = AdminOp::kLbfactor;
      if (!ParseLbfactor(value, &form->lbfactor)) {
        *error = Message({"invalid lbfactor ", Quoted(value, 64), ": use a number from 1 to ",
                          kMaxAdminLbfactor});
        return false;
      }
    } else if (key == "action") {
      ++operations;
      if (value == "reset") form->op = AdminOp::kReset;
      else if (value == "recover") form->op = AdminOp::kRecover;
      else {
        *error = Message({"invalid action ", Quoted(value, 64), ": use reset or recover"});
        return false;
      }
    } else {
      *error = Message({"unknown field ", Quoted(key, 64),
                        ": use upstream, worker, and one of activation, lbfactor, action"});
      return false;
    }
  }
  if (!seen_upstream || form->upstream.empty()) {
    *error = "the field \"upstream\" is missing";
    return false;
  }
  if (operations != 1) {
    *error = operations == 0 ? "nothing to do: give activation, lbfactor or action"
                             : "one change at a time: give only one of activation, lbfactor, action";
    return false;
  }
  if ((!seen_worker || form->worker.empty()) && form->op != AdminOp::kReset) {
    *error = "the field \"worker\" is missing";
    return false;
  }
  return true;
}

bool SetActivation(Zone& zone, std::size_t index, Activation activation) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  if (m.GetActivation() == activation) return false;
  m.activation = static_cast<std::uint8_t>(activation);
  ResetLoadValues(zone);
  return true;
}

bool SetLbfactor(Zone& zone, std::size_t index, std::uint32_t lbfactor) noexcept {
  if (index >= zone.member_count || lbfactor < 1) return false;
  MemberState& m = zone.record(index);
  if (m.lbfactor == lbfactor) return false;
  m.lbfactor = lbfactor;
  RecomputeMultipliers(zone);
  if (zone.GetMethod() == Method::kBusyness)  // lb_value is in_flight x lb_mult
    for (std::size_t i = 0; i < zone.member_count; ++i) {
      MemberState& r = zone.record(i);
      r.lb_value = AtomicLoad(r.in_flight) * r.lb_mult;
    }
  return true;
}

bool ResetMember(Zone& zone, std::size_t index, std::uint64_t now_ms,
                 Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  m.requests = m.requests_at_maintenance = 0;
  m.sticky_hits = m.new_sessions = m.errors = 0;
  AtomicStore(m.bytes_sent, 0);  // also changed without the lock (counters.h)
  AtomicStore(m.bytes_received, 0);
  m.probes = m.probe_failures = 0;
  m.lb_value = zone.GetMethod() == Method::kBusyness ? AtomicLoad(m.in_flight) * m.lb_mult : 0;
  m.last_request_ms = 0;
  ClearWindow(m);
  // Error times, probe claims and the state itself: OK/IDLE, as mod_jk.
  return ChangeHealth(zone, index, HealthCause::kAdminReset, now_ms, transition);
}

bool RecoverMember(Zone& zone, std::size_t index, std::uint64_t now_ms,
                   Transition* transition) noexcept {
  if (index >= zone.member_count) return false;
  MemberState& m = zone.record(index);
  if (m.GetHealth() != Health::kError) return false;
  // End the rest now; the recover timer's transition does the rest
  // (ERR -> ERR/REC, load value set to the highest).
  m.recover_at_ms = now_ms;
  return ChangeHealth(zone, index, HealthCause::kRecoverTimer, now_ms, transition);
}

}  // namespace sticky
