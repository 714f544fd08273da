#include "seedbank/protocol/log.h"

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

std::string printable_for_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", b);
      out += buf;
    } else {
      out.push_back(c);
    }
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
