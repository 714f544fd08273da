#include "seedbank/node/progress.h"

#include <unistd.h>

#include <cstdio>

#include "seedbank/protocol/log.h"

namespace seedbank::node {

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, std::uint64_t total, bool enabled)
    : label_(protocol::printable_for_terminal(label)),
      total_(total),
      enabled_(enabled && stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::uint64_t done, const std::string& extra) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::string eta = "--:--";
  if (rate > 0 && done < total_) {
    auto secs = static_cast<long>(static_cast<double>(total_ - done) / rate);
    char b[48];
    std::snprintf(b, sizeof b, "%ld:%02ld", secs / 60, secs % 60);
    eta = b;
  }
  std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s/%s %s ETA %s%s%s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), human_bytes(done).c_str(), human_bytes(total_).c_str(),
               human_rate(rate).c_str(), eta.c_str(), extra.empty() ? "" : " ",
               protocol::printable_for_terminal(extra).c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  drawn_ = false;
}

}  // namespace seedbank::node
