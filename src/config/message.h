// Diagnostic messages put together in one string. The pieces are measured
// first and the message is allocated once: a chain of `+` allocates for
// almost every piece, which shows when a file has thousands of problems
// (each message is made as the problem is found).
//
//   Message({"duplicate ", Quoted(key), " of line ", line})
#ifndef STICKY_MESSAGE_H
#define STICKY_MESSAGE_H

#include <charconv>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace sticky {

// `text` between double quotes; when longer than `max_bytes`, its start
// and "..." (inside the quotes). A control byte is written as \xNN, so a
// quoted value cannot start a log line of its own.
struct Quoted {
  explicit Quoted(std::string_view text, size_t max_bytes = std::string_view::npos)
      : text(text), max_bytes(max_bytes) {}
  std::string_view text;
  size_t max_bytes;
};

// One piece of a message: text, Quoted text or an integer (in decimal, as
// std::to_string writes it).
class MessagePiece {
 public:
  MessagePiece(const char* text) : text_(text) {}
  MessagePiece(std::string_view text) : text_(text) {}
  MessagePiece(const std::string& text) : text_(text) {}
  MessagePiece(Quoted quoted) : quoted_(true) {
    cut_ = quoted.text.size() > quoted.max_bytes;
    text_ = cut_ ? quoted.text.substr(0, quoted.max_bytes) : quoted.text;
    for (char c : text_) controls_ += IsControl(c);
  }
  template <typename Integer, typename = std::enable_if_t<std::is_integral_v<Integer> &&
                                                          !std::is_same_v<Integer, bool> &&
                                                          !std::is_same_v<Integer, char>>>
  MessagePiece(Integer number) {
    text_ = std::string_view(digits_, std::to_chars(digits_, digits_ + sizeof digits_, number).ptr -
                                          digits_);
  }
  // The pieces live in an initializer_list: never copied.
  MessagePiece(const MessagePiece&) = delete;
  MessagePiece& operator=(const MessagePiece&) = delete;

  size_t size() const {
    return text_.size() + 3 * controls_ + (quoted_ ? 2 : 0) + (cut_ ? 3 : 0);
  }

  // Writes size() bytes at `out`; returns where they end.
  char* CopyTo(char* out) const {
    if (quoted_) *out++ = '"';
    if (controls_ == 0) {
      if (!text_.empty())
        out = static_cast<char*>(std::memcpy(out, text_.data(), text_.size())) + text_.size();
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      for (char c : text_) {
        if (!IsControl(c)) {
          *out++ = c;
          continue;
        }
        const auto byte = static_cast<unsigned char>(c);
        *out++ = '\\';
        *out++ = 'x';
        *out++ = kHex[byte >> 4];
        *out++ = kHex[byte & 15];
      }
    }
    if (cut_) out = static_cast<char*>(std::memcpy(out, "...", 3)) + 3;
    if (quoted_) *out++ = '"';
    return out;
  }

 private:
  static bool IsControl(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  }

  std::string_view text_;
  size_t controls_ = 0;  // control bytes in a Quoted text, each written as \xNN
  bool quoted_ = false;
  bool cut_ = false;
  char digits_[24];  // an integer's text (text_ points here)
};

inline std::string Message(std::initializer_list<MessagePiece> pieces) {
  size_t size = 0;
  for (const MessagePiece& piece : pieces) size += piece.size();
  std::string message(size, '\0');
  char* out = &message[0];
  for (const MessagePiece& piece : pieces) out = piece.CopyTo(out);
  return message;
}

}  // namespace sticky

#endif  // STICKY_MESSAGE_H
