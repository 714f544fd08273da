// Log: leveled messages to a sink the caller chooses. There is no global
// logger: whoever builds a component hands it a Log (a copy is cheap and
// shares the sink). The default sink writes "seedbank <component>: <text>"
// lines to stderr, with control characters escaped, since messages carry
// text peers control (agents, reasons, names) and a terminal must not run
// their escape sequences. Thread-safe: one line is written at a time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace seedbank::protocol {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// "debug", "info", "warn", "error", "off"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view text);

class Log {
 public:
  using Sink = std::function<void(LogLevel level, std::string_view component, std::string_view message)>;

  // Stderr at info and above.
  Log();
  Log(LogLevel min, Sink sink);

  // A Log that prefixes messages with `component` ("gossip", "node", ...).
  Log with_component(std::string component) const;
  void set_level(LogLevel min) { min_ = min; }
  bool enabled(LogLevel level) const { return level >= min_; }

  void debug(std::string_view message) const { write(LogLevel::debug, message); }
  void info(std::string_view message) const { write(LogLevel::info, message); }
  void warn(std::string_view message) const { write(LogLevel::warn, message); }
  void error(std::string_view message) const { write(LogLevel::error, message); }
  void write(LogLevel level, std::string_view message) const;

  // The stderr sink; lines are "seedbank <component>: <message>".
  static Sink stderr_sink();

 private:
  LogLevel min_;
  std::shared_ptr<Sink> sink_;
  std::string component_ = "node";
};

// `text` as a terminal may show it: control characters, DEL and bytes that
// are not UTF-8 as \xNN; C1 controls and bidirectional overrides as \uNNNN.
std::string printable_for_terminal(std::string_view text);

}  // namespace seedbank::protocol
