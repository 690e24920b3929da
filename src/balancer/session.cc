#include "balancer/session.h"

#include <cstring>
#include <new>

namespace sticky {
namespace {

// isspace() in the "C" locale, without the locale lookup (and without the
// undefined behaviour of passing it a negative char).
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The first of `a` or `b` in [p, end), or end: two memchr() calls (the
// second only up to the first's hit), several times fewer instructions
// than a loop over the bytes or string_view::find_first_of().
inline const char* FindEither(const char* p, const char* end, char a, char b) {
  const void* hit = std::memchr(p, a, static_cast<std::size_t>(end - p));
  if (hit != nullptr) end = static_cast<const char*>(hit);
  const void* other = std::memchr(p, b, static_cast<std::size_t>(end - p));
  return other != nullptr ? static_cast<const char*>(other) : end;
}

// The first `name` (not empty) in [p, end), or nullptr: string_view::find()
// without its bookkeeping.
inline const char* FindName(const char* p, const char* end, std::string_view name) {
  const std::size_t n = name.size();
  while (static_cast<std::size_t>(end - p) >= n) {
    const char* hit =
        static_cast<const char*>(std::memchr(p, name[0], static_cast<std::size_t>(end - p) - n + 1));
    if (hit == nullptr) return nullptr;
    if (std::memcmp(hit + 1, name.data() + 1, n - 1) == 0) return hit;
    p = hit + 1;
  }
  return nullptr;
}

// The route of an id (see SessionRoute()).
inline std::string_view RouteOf(const char* id, std::size_t len) {
  if (len == 0) return {};
  const void* dot = std::memchr(id, '.', len);
  if (dot == nullptr) return {};
  const char* route = static_cast<const char*>(dot) + 1;
  return std::string_view(route, static_cast<std::size_t>(id + len - route));
}

// Stores one candidate if there is room; empty ids are skipped, as mod_jk
// logs "Detected empty session identifier" and treats it as no session.
// Constructed in place: `out` may be storage that holds no candidate yet.
inline void Add(const char* id, std::size_t len, SessionSource source, SessionCandidate* out,
                std::size_t capacity, std::size_t* count) {
  if (len == 0 || *count >= capacity) return;
  ::new (static_cast<void*>(out + *count))
      SessionCandidate{std::string_view(id, len), RouteOf(id, len), source};
  ++*count;
}

// mod_jk's get_path_param(): the first `name` directly followed by '='. Its
// req_uri holds no query string; ours is raw, so stop before '?' and '#'.
void FindPathParameter(std::string_view uri, std::string_view name, SessionCandidate* out,
                       std::size_t capacity, std::size_t* count) {
  // Most URIs hold no session: too short for `name=` and one byte, or
  // without the name's first byte (one memchr() instead of three).
  if (name.empty() || uri.size() < name.size() + 2 ||
      std::memchr(uri.data(), name.front(), uri.size()) == nullptr)
    return;
  const char* const path_end = FindEither(uri.data(), uri.data() + uri.size(), '?', '#');
  for (const char* at = FindName(uri.data(), path_end, name); at != nullptr;
       at = FindName(at + 1, path_end, name)) {
    const char* value = at + name.size();
    if (value >= path_end || *value != '=') continue;
    ++value;
    const char* value_end = FindEither(value, path_end, ';', '/');
    if (value_end == value) continue;
    Add(value, static_cast<std::size_t>(value_end - value), SessionSource::kPathParameter, out,
        capacity, count);
    return;  // mod_jk uses one path parameter at most
  }
}

// mod_jk's get_cookie() on one header value: every occurrence, in order.
void FindCookies(std::string_view header, std::string_view name, SessionCandidate* out,
                 std::size_t capacity, std::size_t* count) {
  const char* const begin = header.data();
  const char* const end = begin + header.size();
  const char* at = FindName(begin, end, name);
  while (at != nullptr && *count < capacity) {
    // "XJSESSIONID=" or "a=xJSESSIONID=" must not match.
    const bool starts_cookie = at == begin || at[-1] == ';' || at[-1] == ',' || IsSpace(at[-1]);
    const char* eq = at + name.size();
    while (eq < end && IsSpace(*eq)) ++eq;
    if (!starts_cookie || eq >= end || *eq != '=') {
      at = FindName(at + 1, end, name);
      continue;
    }
    const char* const value_end = FindEither(eq + 1, end, ';', ',');
    const char* v = eq + 1;
    const char* w = value_end;
    while (v < w && IsSpace(*v)) ++v;
    while (v < w && IsSpace(w[-1])) --w;
    // Quoted values (bug 55683): JSESSIONID="ABC.n1".
    if (w - v >= 2 && *v == '"' && w[-1] == '"') {
      ++v;
      --w;
    }
    Add(v, static_cast<std::size_t>(w - v), SessionSource::kCookie, out, capacity, count);
    at = FindName(value_end, end, name);
  }
}

}  // namespace

std::string_view SessionRoute(std::string_view session_id) noexcept {
  return RouteOf(session_id.data(), session_id.size());
}

std::size_t FindSessionCandidates(std::string_view uri, const std::string_view* cookie_headers,
                                  std::size_t cookie_header_count, const SessionNames& names,
                                  SessionCandidate* out, std::size_t capacity) noexcept {
  std::size_t count = 0;
  if (out == nullptr) return 0;
  FindPathParameter(uri, names.path_parameter, out, capacity, &count);
  if (names.cookie.empty() || cookie_headers == nullptr) return count;
  for (std::size_t i = 0; i < cookie_header_count && count < capacity; ++i)
    FindCookies(cookie_headers[i], names.cookie, out, capacity, &count);
  return count;
}

}  // namespace sticky
