#include "seedbank/protocol/log.h"

#include "seedbank/protocol/text.h"

#include <cstdio>
#include <iostream>
#include <mutex>

namespace seedbank::protocol {

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  if (text == "off") return LogLevel::off;
  return std::nullopt;
}

namespace {

// Code points a terminal acts on or that reorder what it shows: C1
// controls (CSI is U+009B) and the bidirectional marks and overrides.
bool hidden_control(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

char32_t decode(std::string_view s, std::size_t at, std::size_t n) {
  auto b = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[at + k])); };
  if (n == 2) return (b(0) & 0x1f) << 6 | (b(1) & 0x3f);
  if (n == 3) return (b(0) & 0x0f) << 12 | (b(1) & 0x3f) << 6 | (b(2) & 0x3f);
  return (b(0) & 0x07) << 18 | (b(1) & 0x3f) << 12 | (b(2) & 0x3f) << 6 | (b(3) & 0x3f);
}

}  // namespace

std::string printable_for_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buf[16];
  for (std::size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7f) {
        std::snprintf(buf, sizeof buf, "\\x%02x", b);
        out += buf;
      } else {
        out.push_back(text[i]);
      }
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {  // not UTF-8: shown, not passed to the terminal
      std::snprintf(buf, sizeof buf, "\\x%02x", b);
      out += buf;
      ++i;
      continue;
    }
    if (char32_t cp = decode(text, i, n); hidden_control(cp)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

Log::Sink Log::stderr_sink() {
  auto mutex = std::make_shared<std::mutex>();
  return [mutex](LogLevel level, std::string_view component, std::string_view message) {
    std::string line = "seedbank " + std::string(component) + ": ";
    if (level == LogLevel::warn) line += "warning: ";
    if (level == LogLevel::error) line += "error: ";
    line += printable_for_terminal(message);
    line += "\n";
    std::lock_guard lock(*mutex);
    std::cerr << line << std::flush;
  };
}

Log::Log() : Log(LogLevel::info, stderr_sink()) {}

Log::Log(LogLevel min, Sink sink) : min_(min), sink_(std::make_shared<Sink>(std::move(sink))) {}

Log Log::with_component(std::string component) const {
  Log out = *this;
  out.component_ = std::move(component);
  return out;
}

void Log::write(LogLevel level, std::string_view message) const {
  if (!enabled(level) || !sink_ || !*sink_) return;
  (*sink_)(level, component_, message);
}

}  // namespace seedbank::protocol
