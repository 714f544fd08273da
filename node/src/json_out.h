// A JSON text written straight into a string, for answers built often
// (API listings of 100 models): no document tree, no allocation per value.
// Strings are escaped and made valid UTF-8 (bad bytes become U+FFFD), as
// record texts come from anyone. Commas are placed by the writer; callers
// only nest begin/end correctly. Private to node/.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/text.h"

namespace seedbank::node {

class JsonOut {
 public:
  JsonOut& begin_object() { return open('{'); }
  JsonOut& end_object() { return close('}'); }
  JsonOut& begin_array() { return open('['); }
  JsonOut& end_array() { return close(']'); }
  JsonOut& key(std::string_view k) {
    separate();
    string(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonOut& value(std::string_view s) {
    separate();
    string(s);
    return *this;
  }
  JsonOut& value(const char* s) { return value(std::string_view(s)); }
  JsonOut& value(const std::string& s) { return value(std::string_view(s)); }
  JsonOut& value(bool b) { return raw(b ? "true" : "false"); }
  JsonOut& value(std::uint64_t n) { return raw(std::to_string(n)); }
  JsonOut& value(std::int64_t n) { return raw(std::to_string(n)); }
  JsonOut& value(std::uint32_t n) { return value(static_cast<std::uint64_t>(n)); }
  JsonOut& value(int n) { return value(static_cast<std::int64_t>(n)); }
  JsonOut& value(double d) {
    if (!std::isfinite(d)) return null();
    // Integral doubles as Civitai writes them (7, 0); others in the
    // shortest form that reads back the same (4.5, 0.1).
    if (std::fabs(d) < 1e15 && d == std::trunc(d)) return raw(std::to_string(static_cast<std::int64_t>(d)));
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    return raw(std::string_view(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0));
  }
  JsonOut& null() { return raw("null"); }
  // Text that is already JSON (one value).
  JsonOut& raw(std::string_view json) {
    separate();
    out_.append(json);
    return *this;
  }
  // A key and its value at once.
  template <class T>
  JsonOut& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  JsonOut& open(char c) {
    separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonOut& close(char c) {
    out_.push_back(c);
    if (!first_.empty()) first_.pop_back();
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
    }
  }
  void string(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out_.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        if (c == '"' || c == '\\') {
          out_.push_back('\\');
          out_.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
          if (c == '\n')
            out_ += "\\n";
          else if (c == '\t')
            out_ += "\\t";
          else if (c == '\r')
            out_ += "\\r";
          else {
            out_ += "\\u00";
            out_.push_back(hex[c >> 4]);
            out_.push_back(hex[c & 15]);
          }
        } else {
          out_.push_back(static_cast<char>(c));
        }
        ++i;
        continue;
      }
      std::size_t n = protocol::utf8_sequence_length(s, i);
      if (n == 0) {
        out_ += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out_.append(s.substr(i, n));
        i += n;
      }
    }
    out_.push_back('"');
  }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace seedbank::node
