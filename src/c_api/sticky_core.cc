// The C face of the core (sticky_core.h). Each opaque handle is a one-member
// wrapper around the C++ object; every entry point catches everything, so no
// exception ever unwinds through nginx's C frames.
#include "c_api/sticky_core.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "config/config.h"
#include "c_api/handles.h"
#include "config/model.h"

// Hidden like the rest of the core: the glue links the archive into the same
// .so, and nginx dlopen()s modules RTLD_GLOBAL, so nothing should be exported.
#define STICKY_API extern "C"

struct sticky_config_s {
  sticky::Config rep;
  std::vector<std::string> diagnostic_texts;  // formatted once, at load
  std::vector<sticky_lb_s> lbs;               // one handle per balancer, singles included
};

namespace {

void SetError(sticky_error_t* err, const std::string& message) { StickySetError(err, message); }

sticky_str_t Str(const std::string& s) { return sticky_str_t{s.data(), s.size()}; }

// "FILE:LINE: message", with the key added when the message does not name it.
std::string FormatDiagnostic(const sticky::Diagnostic& d) {
  std::string text = d.where.file;
  if (d.where.line > 0) text += ":" + std::to_string(d.where.line);
  text += ": " + d.message;
  if (!d.key.empty() && d.message.find(d.key) == std::string::npos)
    text += " (key \"" + d.key + "\")";
  return text;
}

int ToSeverity(sticky::Severity s) {
  switch (s) {
    case sticky::Severity::kNotice: return STICKY_NOTICE;
    case sticky::Severity::kWarning: return STICKY_WARNING;
    case sticky::Severity::kError: break;
  }
  return STICKY_ERROR;
}

// mod_jk's ints where only a value above 0 does something.
unsigned Positive(int value) { return value > 0 ? static_cast<unsigned>(value) : 0; }

int ToActivation(sticky::Activation a) {
  switch (a) {
    case sticky::Activation::kActive: return STICKY_ACTIVE;
    case sticky::Activation::kDisabled: return STICKY_DISABLED;
    case sticky::Activation::kStopped: break;
  }
  return STICKY_STOPPED;
}

}  // namespace

STICKY_API int sticky_config_load(const char* file, size_t file_len, const char* text,
                                  size_t text_len, sticky_config_t** out,
                                  sticky_error_t* err) noexcept {
  try {
    auto cfg = std::make_unique<sticky_config_s>();
    cfg->rep = sticky::LoadConfig(std::string_view(text, text_len), std::string(file, file_len),
                                  sticky::ProcessEnvironment());
    for (const auto& d : cfg->rep.diagnostics) cfg->diagnostic_texts.push_back(FormatDiagnostic(d));
    for (const auto& b : cfg->rep.balancers) cfg->lbs.push_back(sticky_lb_s{&b});
    for (const auto& b : cfg->rep.singles) cfg->lbs.push_back(sticky_lb_s{&b});
    *out = cfg.release();
    return 0;
  } catch (const std::bad_alloc&) {
    SetError(err, "out of memory while reading \"" + std::string(file, file_len) + "\"");
  } catch (...) {
    SetError(err, "internal error while reading \"" + std::string(file, file_len) + "\"");
  }
  return -1;
}

STICKY_API void sticky_config_free(sticky_config_t* cfg) noexcept { delete cfg; }

STICKY_API int sticky_config_ok(const sticky_config_t* cfg) noexcept { return cfg->rep.ok() ? 1 : 0; }

STICKY_API size_t sticky_config_diagnostics(const sticky_config_t* cfg) noexcept {
  return cfg->diagnostic_texts.size();
}

STICKY_API void sticky_config_diagnostic(const sticky_config_t* cfg, size_t index, int* severity,
                                         sticky_str_t* text) noexcept {
  *severity = ToSeverity(cfg->rep.diagnostics[index].severity);
  *text = Str(cfg->diagnostic_texts[index]);
}

STICKY_API unsigned sticky_config_maintain(const sticky_config_t* cfg) noexcept {
  return cfg->rep.maintain > 0 ? static_cast<unsigned>(cfg->rep.maintain) : 0;
}

STICKY_API int sticky_config_lb(const sticky_config_t* cfg, const char* name, size_t len,
                                const sticky_lb_t** out, sticky_error_t* err) noexcept {
  try {
    std::string error;
    const sticky::Balancer* b = sticky::SelectBalancer(cfg->rep, std::string_view(name, len), &error);
    if (b == nullptr) {
      SetError(err, error);
      return -1;
    }
    for (const auto& handle : cfg->lbs) {
      if (handle.rep == b) {
        *out = &handle;
        return 0;
      }
    }
    SetError(err, "lb worker \"" + b->name + "\" has no handle");
  } catch (...) {
    SetError(err, "out of memory");
  }
  return -1;
}

STICKY_API sticky_str_t sticky_lb_name(const sticky_lb_t* lb) noexcept { return Str(lb->rep->name); }

STICKY_API unsigned sticky_lb_recover_time(const sticky_lb_t* lb) noexcept {
  return static_cast<unsigned>(lb->rep->recover_time);
}

STICKY_API size_t sticky_lb_members(const sticky_lb_t* lb) noexcept { return lb->rep->members.size(); }

STICKY_API void sticky_lb_member(const sticky_lb_t* lb, size_t index, sticky_member_t* out) noexcept {
  const sticky::Member& m = lb->rep->members[index];
  out->name = Str(m.name);
  out->host = Str(m.host);
  out->port = m.port > 0 ? static_cast<unsigned>(m.port) : 0;
  out->lbfactor = static_cast<unsigned>(m.lbfactor);
  out->distance = m.distance > 0 ? static_cast<unsigned>(m.distance) : 0;
  out->activation = ToActivation(m.activation);
  out->route = Str(m.route);
  out->domain = Str(m.domain);
  out->redirect = Str(m.redirect);
  out->line = m.where.line;
  out->reply_timeout = Positive(m.reply_timeout);
  out->connect_timeout = Positive(m.socket_connect_timeout);

  out->ajp14 = m.type == "ajp14" ? 1 : 0;
  out->secret = Str(m.secret);
  out->max_packet_size = static_cast<unsigned>(m.max_packet_size);
  out->cping_connect_timeout = Positive(m.connect_timeout);
  out->prepost_timeout = Positive(m.prepost_timeout);
  out->ping_timeout = Positive(m.ping_timeout);
  // jk_ajp_common.c ajp_maintain pings idle connections only when both the
  // interval and the CPong wait are above 0.
  out->ping_interval = m.ping_timeout > 0 ? Positive(m.ping_interval) : 0;
  out->pool_size = Positive(m.pool_size);
  out->pool_minsize = Positive(m.pool_minsize);
  out->pool_timeout = Positive(m.pool_timeout);
  out->socket_keepalive = m.socket_keepalive ? 1 : 0;
}
