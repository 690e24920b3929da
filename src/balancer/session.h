// Finding the session id, and the route in it, in a request — mod_jk's
// get_sessionid()/get_path_param()/get_cookie() (jk_lb_worker.c), read from
// the raw request so that nginx's own cookie parsing (case-insensitive names,
// first match only) does not get in the way.
//
// Request time: nothing here allocates. Results are views into the caller's
// buffers and live as long as they do. Any bytes are accepted (NULs, huge
// values, unbalanced quotes); nothing is read outside the given views.
#ifndef STICKY_SESSION_H
#define STICKY_SESSION_H

#include <cstddef>
#include <string_view>

namespace sticky {

// A request rarely carries more than two or three session cookies; later ones
// are ignored so that a hostile request cannot make the caller loop.
inline constexpr std::size_t kMaxSessionCandidates = 16;

enum class SessionSource { kPathParameter, kCookie };

// One session id found in the request, in the order mod_jk tries them.
struct SessionCandidate {
  std::string_view id;     // the whole id, e.g. "A1B2C3.node1"; never empty
  std::string_view route;  // text after the id's first '.', e.g. "node1"; empty: no route
  SessionSource source = SessionSource::kCookie;
};

// What to look for: a balancer's session_path and session_cookie.
struct SessionNames {
  std::string_view path_parameter = ";jsessionid";  // includes the leading ';'
  std::string_view cookie = "JSESSIONID";           // case-sensitive
};

// The route of a session id: everything after its FIRST '.' (mod_jk), so
// "ABC.n2.extra" has the route "n2.extra". Empty when there is no dot or
// nothing follows it (mod_jk then balances the request normally).
std::string_view SessionRoute(std::string_view session_id) noexcept;

// Room for N objects of T of which none is constructed, for what is
// constructed in place (FindSessionCandidates() into its `out`): an array of
// T would be zeroed whole on every request (SessionCandidate has default
// member initialisers), which costs more than finding the candidates.
template <typename T, std::size_t N>
class Uninitialized {
 public:
  T* data() noexcept { return reinterpret_cast<T*>(bytes_); }

 private:
  alignas(T) unsigned char bytes_[N * sizeof(T)];
};

// Collects the session-id candidates of a request into out[0..capacity) and
// returns how many were stored:
//  1. the path parameter `names.path_parameter` followed by '=' in the path
//     part of `uri` (the raw request URI; the query and fragment are not
//     searched); the value runs to the first ';' or '/';
//  2. then every cookie named `names.cookie` in every header of
//     `cookie_headers` (the raw values of all Cookie headers, in request
//     order): the name must start the header or follow ';', ',' or white
//     space, spaces may precede '='; the value ends at ';' or ','; white space
//     around it and one pair of surrounding double quotes are removed.
// Empty values are skipped. An empty name disables that source.
std::size_t FindSessionCandidates(std::string_view uri, const std::string_view* cookie_headers,
                                  std::size_t cookie_header_count, const SessionNames& names,
                                  SessionCandidate* out, std::size_t capacity) noexcept;

}  // namespace sticky

#endif  // STICKY_SESSION_H
