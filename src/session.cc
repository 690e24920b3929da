#include "session.h"

#include <cstring>

namespace sticky {
namespace {

// isspace() in the "C" locale, without the locale lookup (and without the
// undefined behaviour of passing it a negative char).
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The first of `a` or `b` in `s` from `from`, or npos: two memchr() calls
// (the second only up to the first's hit), several times fewer
// instructions than a loop over the bytes or string_view::find_first_of().
std::size_t FindEither(std::string_view s, std::size_t from, char a, char b) {
  if (from >= s.size()) return std::string_view::npos;
  const char* begin = s.data() + from;
  std::size_t n = s.size() - from;
  const void* hit = std::memchr(begin, a, n);
  if (hit != nullptr) n = static_cast<std::size_t>(static_cast<const char*>(hit) - begin);
  if (const void* other = std::memchr(begin, b, n)) hit = other;
  return hit == nullptr ? std::string_view::npos
                        : static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
}

// `needle` (not empty) in `s` from `from`, or npos.
std::size_t FindText(std::string_view s, std::string_view needle, std::size_t from) {
  if (from >= s.size()) return std::string_view::npos;
  return s.find(needle, from);
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Stores one candidate if there is room; empty ids are skipped, as mod_jk
// logs "Detected empty session identifier" and treats it as no session.
void Add(std::string_view id, SessionSource source, SessionCandidate* out, std::size_t capacity,
         std::size_t* count) {
  if (id.empty() || *count >= capacity) return;
  out[*count] = SessionCandidate{id, SessionRoute(id), source};
  ++*count;
}

// mod_jk's get_path_param(): the first `name` directly followed by '='. Its
// req_uri holds no query string; ours is raw, so stop before '?' and '#'.
void FindPathParameter(std::string_view uri, std::string_view name, SessionCandidate* out,
                       std::size_t capacity, std::size_t* count) {
  if (name.empty()) return;
  std::string_view path = uri.substr(0, FindEither(uri, 0, '?', '#'));
  for (std::size_t at = FindText(path, name, 0); at != std::string_view::npos;
       at = FindText(path, name, at + 1)) {
    std::size_t value_start = at + name.size();
    if (value_start >= path.size() || path[value_start] != '=') continue;
    std::string_view value = path.substr(value_start + 1);
    value = value.substr(0, FindEither(value, 0, ';', '/'));
    if (value.empty()) continue;
    Add(value, SessionSource::kPathParameter, out, capacity, count);
    return;  // mod_jk uses one path parameter at most
  }
}

// mod_jk's get_cookie() on one header value: every occurrence, in order.
void FindCookies(std::string_view header, std::string_view name, SessionCandidate* out,
                 std::size_t capacity, std::size_t* count) {
  std::size_t at = FindText(header, name, 0);
  while (at != std::string_view::npos && *count < capacity) {
    // "XJSESSIONID=" or "a=xJSESSIONID=" must not match.
    bool starts_cookie = at == 0 || header[at - 1] == ';' || header[at - 1] == ',' ||
                         IsSpace(header[at - 1]);
    std::size_t pos = at + name.size();
    while (pos < header.size() && IsSpace(header[pos])) ++pos;
    if (!starts_cookie || pos >= header.size() || header[pos] != '=') {
      at = FindText(header, name, at + 1);
      continue;
    }
    std::size_t value_start = pos + 1;
    std::size_t value_end = FindEither(header, value_start, ';', ',');
    if (value_end == std::string_view::npos) value_end = header.size();
    std::string_view value = TrimSpace(header.substr(value_start, value_end - value_start));
    // Quoted values (bug 55683): JSESSIONID="ABC.n1".
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    Add(value, SessionSource::kCookie, out, capacity, count);
    at = FindText(header, name, value_end);
  }
}

}  // namespace

std::string_view SessionRoute(std::string_view session_id) noexcept {
  std::size_t dot = session_id.find('.');
  if (dot == std::string_view::npos) return {};
  return session_id.substr(dot + 1);
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
