// Plain BitTorrent tools on 127.0.0.1 for tests and the bench: a free
// port, a program from the system, and a local opentracker that tracks
// only the info-hashes it is given.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"

namespace seedbank::testing {

// A port that was free a moment ago (for programs that need a fixed one).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The installed program's path, or "" when it is not installed.
inline std::string which(const std::string& program) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"})
    if (std::filesystem::exists(std::filesystem::path(dir) / program))
      return (std::filesystem::path(dir) / program).string();
  return {};
}

// opentracker on 127.0.0.1:`port` tracking only `hashes` (hex v1
// info-hashes), its files and output under `dir` (which must be readable
// by everyone: run as root it drops to `nobody` and chroots there).
// Throws with what to do when it is missing or does not start.
inline std::unique_ptr<Process> start_opentracker(const std::filesystem::path& dir, int port,
                                                  const std::vector<std::string>& hashes) {
  namespace fs = std::filesystem;
  const auto everyone = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                        fs::perms::others_exec;
  fs::permissions(dir, everyone);
  auto tracker_dir = dir / "tracker";
  fs::create_directories(tracker_dir);
  fs::permissions(tracker_dir, everyone);
  std::ofstream whitelist(tracker_dir / "whitelist");
  for (const auto& h : hashes) whitelist << h << "\n";
  whitelist.close();
  std::string bin = which("opentracker");
  if (bin.empty())
    throw std::runtime_error("opentracker is not installed (./test.sh installs it: apt-get install opentracker)");
  std::vector<std::string> args{
      bin, "-i", "127.0.0.1", "-p", std::to_string(port), "-P", std::to_string(port), "-d", tracker_dir.string()};
  if (::geteuid() == 0)
    args.insert(args.end(), {"-u", "nobody", "-w", "/whitelist"});  // path inside its chroot
  else
    args.insert(args.end(), {"-w", (tracker_dir / "whitelist").string()});
  auto tracker = std::make_unique<Process>(args, (dir / "tracker-log").string());
  for (int i = 0; i < 200 && !accepts_connections(port); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  if (!accepts_connections(port)) throw std::runtime_error("opentracker did not start: " + tracker->err());
  return tracker;
}

}  // namespace seedbank::testing
