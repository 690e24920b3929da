#include "config/cookie.h"

#include <string>

#include "config/message.h"
#include "config/values.h"

namespace sticky {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// RFC 2616 separators, which a cookie name (a token) may not hold.
bool IsSeparator(char c) {
  return std::string_view("()<>@,;:\\\"/[]?={} \t").find(c) != std::string_view::npos;
}

std::string_view SameSiteName(SameSite s) {
  switch (s) {
    case SameSite::kStrict: return "Strict";
    case SameSite::kLax: return "Lax";
    case SameSite::kNone: return "None";
    case SameSite::kUnset: break;
  }
  return "";
}

}  // namespace

std::string CookieNameProblem(std::string_view name) {
  if (name.empty()) return "a cookie name cannot be empty";
  for (char c : name) {
    if (IsControl(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) > 0x7e)
      return Message({"cookie name ", Quoted(name, 64),
                      " holds a control or non-ASCII byte, which a cookie name cannot hold"});
    if (IsSeparator(c))
      return Message({"cookie name ", Quoted(name, 64), " holds ",
                      Quoted(std::string_view(&c, 1)), ", which a cookie name cannot hold"});
  }
  return {};
}

std::string CookieValueProblem(std::string_view value) {
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (IsControl(byte) || byte > 0x7e || std::string_view(" \",;\\").find(c) != std::string_view::npos)
      return Message({"cookie value ", Quoted(value, 64),
                      " holds a byte a cookie value cannot hold (a control byte, a space, "
                      "'\"', ',', ';' or '\\')"});
  }
  return {};
}

std::string CookiePathProblem(std::string_view path) {
  if (path.empty() || path.front() != '/')
    return Message({"cookie path ", Quoted(path), " does not start with \"/\""});
  for (char c : path)
    if (c == ';' || IsControl(static_cast<unsigned char>(c)))
      return Message({"cookie path ", Quoted(path),
                      " holds a \";\" or a control character, which would end the attribute"});
  return {};
}

std::string CookieDomainProblem(std::string_view domain) {
  std::string_view name = domain;
  if (!name.empty() && name.front() == '.') name.remove_prefix(1);
  if (name.empty() || name.size() > 253)
    return Message({"cookie domain ", Quoted(domain), " is not a host name"});
  char previous = '.';
  for (char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '.')
      return Message({"cookie domain ", Quoted(domain, 64), " holds a byte other than a "
                      "letter, a digit, \"-\" or \".\""});
    if (c == '.' && previous == '.')
      return Message({"cookie domain ", Quoted(domain), " has an empty label"});
    previous = c;
  }
  if (previous == '.')
    return Message({"cookie domain ", Quoted(domain), " ends with \".\""});
  return {};
}

bool SetCookieOption(std::string_view name, std::string_view value, CookieOptions* options,
                     std::string* error) {
  if (name == "domain") {
    *error = CookieDomainProblem(value);
    if (error->empty()) options->domain = value;
  } else if (name == "path") {
    *error = CookiePathProblem(value);
    if (error->empty()) options->path = value;
  } else if (name == "samesite") {
    if (EqualsIgnoringCase(value, "strict")) options->same_site = SameSite::kStrict;
    else if (EqualsIgnoringCase(value, "lax")) options->same_site = SameSite::kLax;
    else if (EqualsIgnoringCase(value, "none")) options->same_site = SameSite::kNone;
    else *error = Message({"cookie samesite ", Quoted(value), " is not strict, lax or none"});
  } else if (name == "secure") {
    if (value == "on") options->secure = CookieSecure::kOn;
    else if (value == "off") options->secure = CookieSecure::kOff;
    else if (value == "auto") options->secure = CookieSecure::kAuto;
    else *error = Message({"cookie secure ", Quoted(value), " is not on, off or auto"});
  } else {
    *error = Message({"unknown cookie option ", Quoted(name)});
  }
  return error->empty();
}

std::string CookieOptionsProblem(const CookieOptions& options) {
  if (options.same_site == SameSite::kNone && options.secure == CookieSecure::kOff)
    return "cookie samesite=none needs the Secure attribute: browsers drop such a cookie "
           "without it, so secure=off cannot go with it";
  return {};
}

CookieAttributes FormatCookieAttributes(const CookieOptions& options,
                                        std::string_view default_path) {
  std::string common;
  const std::string_view path = options.path.empty() ? default_path : options.path;
  if (!path.empty()) common += Message({"; Path=", path});
  if (!options.domain.empty()) common += Message({"; Domain=", options.domain});
  common += "; HttpOnly";
  if (options.same_site != SameSite::kUnset)
    common += Message({"; SameSite=", SameSiteName(options.same_site)});
  // SameSite=None is only ever sent with Secure.
  const bool always = options.secure == CookieSecure::kOn || options.same_site == SameSite::kNone;
  const bool over_tls = options.secure != CookieSecure::kOff;
  return CookieAttributes{always ? common + "; Secure" : common,
                          over_tls ? common + "; Secure" : common};
}

}  // namespace sticky
