// Writing files so that readers see the old content or the new, never a
// part: a temporary file beside the destination, then rename. Private to
// node/.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

#include "seedbank/node/store.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// Whether `path` (after symlinks) is a regular file a command may read:
// error not_found ("no such file"), or invalid_argument naming what it is
// instead (a directory, a FIFO, a device, a socket) and what to give. Checked
// before opening, so a FIFO never blocks and a device is never read.
protocol::Status check_regular_file(const std::filesystem::path& path);

// A short unique temporary name in dest's folder (dest's own name may be up
// to 255 bytes, so it is not reused): ".sb-<16 hex>.tmp".
std::filesystem::path temp_path_beside(const std::filesystem::path& dest);

// A temporary file this process holds while the object lives: created
// exclusively under temp_path_beside(dest) and flock()ed, so a process
// cleaning up at start (remove_abandoned_temps) tells it from one left by a
// process that was killed. Removed on destruction unless committed.
class HeldTemp {
 public:
  static protocol::Result<HeldTemp> beside(const std::filesystem::path& dest);
  HeldTemp(HeldTemp&& other) noexcept;
  HeldTemp& operator=(HeldTemp&&) = delete;
  ~HeldTemp();
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  protocol::Status write_all(std::string_view bytes);
  // Flushes to disk and renames the file to `dest` (replacing it).
  protocol::Status commit(const std::filesystem::path& dest);

 private:
  HeldTemp(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::filesystem::path path_;
};

// Removes the files in `folder` whose names `ours` accepts and that no live
// process holds (an flock): what a killed process left mid-write. Returns
// how many. remove_abandoned_temps takes HeldTemp names only.
std::size_t remove_abandoned_files(const std::filesystem::path& folder,
                                   const std::function<bool(std::string_view name)>& ours);
std::size_t remove_abandoned_temps(const std::filesystem::path& folder);

// Writes `bytes` to `dest` whole or not at all; on failure the previous
// file is kept and the temporary one removed.
protocol::Status write_file_atomically(const std::filesystem::path& dest, std::string_view bytes);

// Puts the store file with `sha256` (or the file shared in place that
// holds it, see ContentStore::locate) at `dest` (creating its folder) as a
// file of its own, never a hard link into the store: a reflink where the
// filesystem can, else a copy whose SHA-256 is checked as it is written;
// under a temporary name that is renamed only once it is complete. A
// failure leaves neither the temporary file nor a changed `dest`.
protocol::Status place_from_store(const ContentStore& store, const protocol::Sha256Digest& sha256,
                                  const std::filesystem::path& dest);

}  // namespace seedbank::node
