// The code tables of AJP/1.3 (codes.h).
#include "codes.h"

#include <cctype>
#include <iterator>

#include "c_api/sticky_core.h"

namespace sticky::ajp {
namespace {

// Index + 1 is the method's code.
constexpr std::string_view kMethods[] = {
    "OPTIONS",  "GET",        "HEAD",        "POST",   "PUT",        "DELETE",
    "TRACE",    "PROPFIND",   "PROPPATCH",   "MKCOL",  "COPY",       "MOVE",
    "LOCK",     "UNLOCK",     "ACL",         "REPORT", "VERSION-CONTROL",
    "CHECKIN",  "CHECKOUT",   "UNCHECKOUT",  "SEARCH", "MKWORKSPACE", "UPDATE",
    "LABEL",    "MERGE",      "BASELINE-CONTROL",      "MKACTIVITY",
};

// Index + 1 is the low byte of the header's code; lowercase.
constexpr std::string_view kRequestHeaders[] = {
    "accept",        "accept-charset", "accept-encoding", "accept-language", "authorization",
    "connection",    "content-type",   "content-length",  "cookie",          "cookie2",
    "host",          "pragma",         "referer",         "user-agent",
};

constexpr std::string_view kResponseHeaders[] = {
    "Content-Type", "Content-Language", "Content-Length", "Date",
    "Last-Modified", "Location",        "Set-Cookie",     "Set-Cookie2",
    "Servlet-Engine", "Status",         "WWW-Authenticate",
};

bool EqualsLowercase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower[i]) return false;
  }
  return true;
}

}  // namespace

unsigned char MethodCode(std::string_view method) noexcept {
  for (std::size_t i = 0; i < std::size(kMethods); ++i) {
    if (method == kMethods[i]) return static_cast<unsigned char>(i + 1);
  }
  return kStoredMethod;
}

unsigned RequestHeaderCode(std::string_view name) noexcept {
  for (std::size_t i = 0; i < std::size(kRequestHeaders); ++i) {
    if (EqualsLowercase(name, kRequestHeaders[i])) return kCodedHeader << 8 | (i + 1);
  }
  return 0;
}

std::string_view ResponseHeaderName(unsigned char nn) noexcept {
  if (nn == 0 || nn > std::size(kResponseHeaders)) return {};
  return kResponseHeaders[nn - 1];
}

const char* PacketName(unsigned type) noexcept {
  switch (type) {
    case STICKY_AJP_SEND_BODY_CHUNK: return "SEND_BODY_CHUNK";
    case STICKY_AJP_SEND_HEADERS: return "SEND_HEADERS";
    case STICKY_AJP_END_RESPONSE: return "END_RESPONSE";
    case STICKY_AJP_GET_BODY_CHUNK: return "GET_BODY_CHUNK";
    case STICKY_AJP_CPONG: return "CPONG";
  }
  return nullptr;
}

}  // namespace sticky::ajp
