// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "seedbank/protocol/util.h"

namespace seedbank::node {

class ProgressBar {
 public:
  // `enabled` false (e.g. --json) draws nothing.
  ProgressBar(std::string label, std::uint64_t total, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Redraws at most ~10 times a second. `extra` is appended (peers, ...).
  void update(std::uint64_t done, const std::string& extra = {});
  void finish();

 private:
  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

bool stderr_is_terminal();
using protocol::util::human_bytes;  // "1.5 GiB"
using protocol::util::human_rate;   // "1.4 MiB/s"

}  // namespace seedbank::node
