// The numbers of AJP/1.3: packet magics and prefix codes, attribute codes,
// and the tables that turn HTTP methods and header names into one-byte or
// two-byte codes (and back, for response headers). Tomcat and mod_jk use
// the same values.
#ifndef STICKY_AJP_CODES_H
#define STICKY_AJP_CODES_H

#include <cstddef>
#include <string_view>

namespace sticky::ajp {

inline constexpr unsigned kToContainer = 0x1234;    // magic of our packets
inline constexpr unsigned kFromContainer = 0x4142;  // "AB"

inline constexpr unsigned kNullString = 0xFFFF;     // string length of a null string
inline constexpr std::size_t kMaxString = 0xFFFE;   // longest string that is not null

// Prefix codes of the packets nginx sends.
inline constexpr unsigned char kForwardRequest = 0x02;
inline constexpr unsigned char kCPing = 0x0A;

// Attribute codes of FORWARD_REQUEST.
inline constexpr unsigned char kAttrRemoteUser = 0x03;
inline constexpr unsigned char kAttrAuthType = 0x04;
inline constexpr unsigned char kAttrQueryString = 0x05;
inline constexpr unsigned char kAttrRoute = 0x06;
inline constexpr unsigned char kAttrSslCert = 0x07;
inline constexpr unsigned char kAttrSslCipher = 0x08;
inline constexpr unsigned char kAttrSslSession = 0x09;
inline constexpr unsigned char kAttrRequest = 0x0A;   // name string + value string
inline constexpr unsigned char kAttrSslKeySize = 0x0B;  // an int16, not a string
inline constexpr unsigned char kAttrSecret = 0x0C;
inline constexpr unsigned char kAttrStoredMethod = 0x0D;
inline constexpr unsigned char kAttrsDone = 0xFF;

// Method byte of a method without a code; the method then travels as the
// stored_method attribute.
inline constexpr unsigned char kStoredMethod = 0xFF;

// A coded header name is two bytes, 0xA0 then the code; a string name starts
// with its length, so names whose length is 0xA0nn cannot be sent.
inline constexpr unsigned char kCodedHeader = 0xA0;

// 1..27 for the methods Tomcat knows (case-sensitive, as HTTP methods are),
// else kStoredMethod.
unsigned char MethodCode(std::string_view method) noexcept;

// 0xA001..0xA00E for the request headers that have a code (names compared
// without regard to case), else 0.
unsigned RequestHeaderCode(std::string_view name) noexcept;

// The usual spelling of response header code 0xA0nn ("Content-Type" for
// nn = 1), or an empty view when nn is not one of the 11 codes.
std::string_view ResponseHeaderName(unsigned char nn) noexcept;

// The name of a container packet type, for messages ("SEND_HEADERS"), or
// nullptr when `type` is not one.
const char* PacketName(unsigned type) noexcept;

}  // namespace sticky::ajp

#endif  // STICKY_AJP_CODES_H
