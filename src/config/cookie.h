// The balancer's own cookie (set_session_cookie): its attributes, checked so
// that no value can add an attribute of its own, and written once at
// configuration time.
//
//   Set-Cookie: JSESSIONID=.node1; Path=/; Domain=example.com; HttpOnly; SameSite=Lax; Secure
#ifndef STICKY_COOKIE_H
#define STICKY_COOKIE_H

#include <string>
#include <string_view>

namespace sticky {

enum class SameSite { kUnset, kStrict, kLax, kNone };
enum class CookieSecure { kAuto, kOn, kOff };  // kAuto: over TLS only

// nginx's options for the cookie (parameters of sticky_workers); the name
// and the default path come from workers.properties.
struct CookieOptions {
  std::string domain;  // empty: no Domain (the cookie stays on its host)
  std::string path;    // empty: the lb's session_cookie_path
  SameSite same_site = SameSite::kUnset;
  CookieSecure secure = CookieSecure::kAuto;
};

// Why `name` cannot be a cookie name (RFC 6265: a token, no separators or
// controls), or empty when it can.
std::string CookieNameProblem(std::string_view name);
// Why `value` cannot be (part of) a cookie value (RFC 6265 cookie-octets:
// no control byte, space, '"', ',', ';' or '\\'), or empty when it can.
std::string CookieValueProblem(std::string_view value);
// Why `path` cannot be a Path attribute ("/...", no ';' or controls).
std::string CookiePathProblem(std::string_view path);
// Why `domain` cannot be a Domain attribute (letters, digits, '-' and '.',
// one leading '.' allowed, at most 253 bytes).
std::string CookieDomainProblem(std::string_view domain);

// Sets the option `name` ("domain", "path", "samesite" or "secure") from
// `value`; false with *error when the name or value is not one.
bool SetCookieOption(std::string_view name, std::string_view value, CookieOptions* options,
                     std::string* error);
// Whether the options fit together: SameSite=None needs Secure (browsers drop
// such a cookie without it), so secure=off is refused with it.
std::string CookieOptionsProblem(const CookieOptions& options);

// What follows "NAME=.ROUTE" in the Set-Cookie header, without and with TLS
// on the client's connection: "; Path=/; HttpOnly[; SameSite=Lax][; Secure]".
struct CookieAttributes {
  std::string plain;
  std::string tls;
};
CookieAttributes FormatCookieAttributes(const CookieOptions& options,
                                        std::string_view default_path);

}  // namespace sticky

#endif  // STICKY_COOKIE_H
