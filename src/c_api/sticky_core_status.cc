// The C face of the status page and the admin actions (sticky_core.h,
// "status and admin"): translation between C and status.h / admin.h.
// Every entry point catches everything; sticky_admin_apply() allocates
// nothing, because the glue calls it with the zone locked.
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <memory>
#include <new>
#include <string>

#include "status/admin.h"
#include "c_api/handles.h"
#include "balancer/state.h"
#include "status/status.h"
#include "c_api/sticky_core.h"
#include "config/values.h"

#define STICKY_API extern "C"

struct sticky_status_s {
  sticky::StatusView view;
  std::deque<std::string> names;  // upstream names the view points into
  std::deque<std::string> texts;  // rendered pages and messages
};

struct sticky_admin_s {
  sticky::AdminForm form;
};

namespace {

void SetError(sticky_error_t* err, const char* format, ...) __attribute__((format(printf, 2, 3)));

void SetError(sticky_error_t* err, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(err->message, sizeof(err->message), format, args);
  va_end(args);
}

sticky_str_t Str(const std::string& s) { return sticky_str_t{s.data(), s.size()}; }

// A bounded writer into a fixed buffer: no allocation (zone lock held).
class Message {
 public:
  Message(char* buf, std::size_t size) : buf_(buf), size_(size) { buf_[0] = '\0'; }
  Message& Put(const char* s) {
    while (*s) Byte(*s++);
    return *this;
  }
  // "name" with anything but printable ASCII as \xNN, so that the text is
  // safe in a log line, a text/plain answer and (escaped) JSON.
  Message& Quoted(std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    Byte('"');
    for (char ch : s) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        Byte(static_cast<char>(c));
      } else {
        Put("\\x");
        Byte(kHex[c >> 4]);
        Byte(kHex[c & 15]);
      }
    }
    Byte('"');
    return *this;
  }
  Message& Num(unsigned long long v) {
    char tmp[24];
    std::snprintf(tmp, sizeof(tmp), "%llu", v);
    return Put(tmp);
  }

 private:
  void Byte(char c) {
    if (len_ + 1 >= size_) return;
    buf_[len_++] = c;
    buf_[len_] = '\0';
  }
  char* buf_;
  std::size_t size_;
  std::size_t len_ = 0;
};

const char* StatusContentType(int format) {
  switch (format) {
    case STICKY_STATUS_JSON: return "application/json";
    case STICKY_STATUS_PROMETHEUS: return "text/plain; version=0.0.4; charset=utf-8";
    case STICKY_STATUS_PROPERTIES: return "text/plain; charset=utf-8";
    default: break;
  }
  return "text/html; charset=utf-8";
}

// Applies one action to member `i`; fills `msg` after "worker "x" of
// upstream "y": ". Returns false (with msg) when refused.
bool ApplyOne(sticky::Zone& zone, std::size_t i, const sticky::AdminForm& form,
              std::uint64_t now_ms, bool* changed, Message& msg) {
  sticky::MemberState& m = zone.record(i);
  switch (form.op) {
    case sticky::AdminOp::kActivation: {
      const char* before = sticky::NamesOf(m.GetActivation()).letter;
      *changed = sticky::SetActivation(zone, i, form.activation);
      if (*changed) msg.Put("activation ").Put(before).Put(" -> ");
      else msg.Put("activation already ");
      msg.Put(sticky::NamesOf(form.activation).letter);
      return true;
    }
    case sticky::AdminOp::kLbfactor: {
      const std::uint32_t before = m.lbfactor;
      *changed = sticky::SetLbfactor(zone, i, form.lbfactor);
      if (*changed) msg.Put("lbfactor ").Num(before).Put(" -> ");
      else msg.Put("lbfactor already ");
      msg.Num(form.lbfactor);
      return true;
    }
    case sticky::AdminOp::kReset:
      sticky::ResetMember(zone, i, now_ms);
      *changed = true;
      msg.Put("counters and load reset, state OK/IDLE");
      return true;
    case sticky::AdminOp::kRecover: {
      const sticky::Health before = m.GetHealth();
      if (!sticky::RecoverMember(zone, i, now_ms)) {
        msg.Put("cannot recover: not in error (state ").Put(sticky::HealthName(before)).Put(")");
        return false;
      }
      *changed = true;
      msg.Put("recovering: state ").Put(sticky::HealthName(m.GetHealth()));
      return true;
    }
  }
  return false;
}

}  // namespace

STICKY_API const char* sticky_status_content_type(int format) noexcept {
  return StatusContentType(format);
}

STICKY_API int sticky_status_create(sticky_status_t** out, sticky_error_t* err) noexcept {
  try {
    *out = new sticky_status_s();
    return 0;
  } catch (...) {
    SetError(err, "out of memory");
  }
  return -1;
}

STICKY_API void sticky_status_free(sticky_status_t* st) noexcept { delete st; }

STICKY_API int sticky_status_add(sticky_status_t* st, const sticky_balancer_t* b, const char* name,
                                 size_t len, const void* zone_copy, size_t bytes,
                                 sticky_error_t* err) noexcept {
  try {
    const sticky::Zone* zone = sticky::ValidZone(zone_copy, bytes);
    if (zone == nullptr) {
      SetError(err, "the state of upstream \"%.*s\" is not readable", static_cast<int>(len), name);
      return -1;
    }
    st->names.emplace_back(name, len);
    sticky::UpstreamView u;
    u.name = st->names.back();
    u.balancer = &StickyBalancerModel(b);
    u.selector = &StickyBalancerSelector(b);
    u.zone = zone;
    u.maintain_seconds = StickyBalancerMaintain(b);
    st->view.upstreams.push_back(u);
    return 0;
  } catch (...) {
    SetError(err, "out of memory");
  }
  return -1;
}

STICKY_API int sticky_status_render(sticky_status_t* st, const sticky_status_options_t* opt,
                                    sticky_str_t* out, sticky_error_t* err) noexcept {
  try {
    sticky::StatusView& v = st->view;
    v.now_ms = opt->now_ms;
    v.wall_ms = opt->wall_ms;
    v.read_write = opt->read_write != 0;
    v.fragment = opt->fragment != 0;
    v.nonce = std::string_view(opt->nonce.data, opt->nonce.len);
    v.version = std::string_view(opt->version.data, opt->version.len);
    switch (opt->format) {
      case STICKY_STATUS_JSON: st->texts.push_back(sticky::RenderJson(v)); break;
      case STICKY_STATUS_PROMETHEUS: st->texts.push_back(sticky::RenderPrometheus(v)); break;
      case STICKY_STATUS_PROPERTIES: st->texts.push_back(sticky::RenderProperties(v)); break;
      default: st->texts.push_back(sticky::RenderHtml(v)); break;
    }
    *out = Str(st->texts.back());
    return 0;
  } catch (...) {
    SetError(err, "out of memory while rendering the status page");
  }
  return -1;
}

STICKY_API int sticky_status_message(sticky_status_t* st, int json, int ok, const char* message,
                                     size_t len, sticky_str_t* out, sticky_error_t* err) noexcept {
  try {
    std::string text;
    const std::string_view m(message, len);
    if (json) {
      text = ok ? "{\"ok\":true,\"message\":" : "{\"ok\":false,\"message\":";
      sticky::AppendJsonString(&text, m);
      text += "}\n";
    } else {
      text = ok ? "OK: " : "ERROR: ";
      text += sticky::ValidUtf8(m);
      text += "\n";
    }
    st->texts.push_back(std::move(text));
    *out = Str(st->texts.back());
    return 0;
  } catch (...) {
    SetError(err, "out of memory");
  }
  return -1;
}

STICKY_API int sticky_admin_parse(const char* body, size_t len, sticky_admin_t** out,
                                  sticky_error_t* err) noexcept {
  try {
    auto a = std::make_unique<sticky_admin_s>();
    std::string error;
    if (!sticky::ParseAdminForm(std::string_view(body, len), &a->form, &error)) {
      SetError(err, "%s", error.c_str());
      return -1;
    }
    *out = a.release();
    return 0;
  } catch (...) {
    SetError(err, "out of memory");
  }
  return -1;
}

STICKY_API void sticky_admin_free(sticky_admin_t* a) noexcept { delete a; }

STICKY_API sticky_str_t sticky_admin_upstream(const sticky_admin_t* a) noexcept {
  return Str(a->form.upstream);
}

STICKY_API sticky_str_t sticky_admin_worker(const sticky_admin_t* a) noexcept {
  return Str(a->form.worker);
}

STICKY_API int sticky_admin_apply(const sticky_balancer_t* b, void* zone, const char* upstream,
                                  size_t len, const sticky_admin_t* a, uint64_t now_ms,
                                  sticky_admin_result_t* res, sticky_error_t* err) noexcept {
  sticky::Zone& z = *static_cast<sticky::Zone*>(zone);
  const sticky::AdminForm& form = a->form;
  const std::string_view up(upstream, len);
  res->changed = 0;
  if (z.member_count != StickyBalancerModel(b).members.size()) {
    SetError(err, "the state of this upstream is not readable");
    return -1;
  }

  if (form.worker.empty()) {  // reset of every worker (ParseAdminForm allows no other)
    for (std::size_t i = 0; i < z.member_count; ++i) sticky::ResetMember(z, i, now_ms);
    res->changed = 1;
    Message(res->message, sizeof(res->message))
        .Put("upstream ").Quoted(up).Put(": ").Num(z.member_count)
        .Put(" workers reset: counters and load 0, state OK/IDLE");
    return 0;
  }

  const int i = sticky::FindRecord(z, form.worker);
  if (i < 0) {
    Message msg(err->message, sizeof(err->message));
    msg.Put("upstream ").Quoted(up).Put(" has no worker ").Quoted(form.worker);
    return -1;
  }
  bool changed = false;
  Message msg(res->message, sizeof(res->message));
  msg.Put("worker ").Quoted(form.worker).Put(" of upstream ").Quoted(up).Put(": ");
  const bool done = ApplyOne(z, static_cast<std::size_t>(i), form, now_ms, &changed, msg);
  res->changed = changed ? 1 : 0;
  if (!done) {
    std::snprintf(err->message, sizeof(err->message), "%s", res->message);
    return -1;
  }
  return 0;
}
