// Files the gallery uploads to publish, sent in chunks so that a model of
// many GB travels as requests of at most kMaxChunkBody (server.h) each, and
// resumes after a dropped connection (or a restart of the node) from what
// arrived.
//
// Each upload is a folder <store>/tmp/uploads/<id>/ holding the file under
// its own name in file/ (checked as a release's file names are, so
// publish() names it as the user did) and upload.json {name, size,
// modified, created}. The bytes received are the file's length: chunks are
// written in order, each at the offset the client says, which must not
// leave a gap. Inside the store's folder so that publishing hard-links the
// file instead of copying it. Uploads not published and untouched for a
// week are removed. Private to node/.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/result.h"

namespace seedbank::node {

inline constexpr std::size_t kUploadChunkBytes = 16u << 20;          // what the gallery sends per request
inline constexpr std::size_t kMaxUploads = 64;                       // unfinished and unpublished, at once
inline constexpr auto kUploadLifetime = std::chrono::hours(24 * 7);  // untouched this long: removed
inline constexpr std::uint64_t kDiskReserve = 256ull << 20;          // left free on the disk after every upload
inline constexpr std::uint64_t kMaxUploadSize = 1ull << 50;          // 1 PiB: larger than any disk

struct UploadInfo {
  std::string id, name;
  std::uint64_t size = 0, received = 0;
  std::uint64_t modified = 0;  // the file's own time (ms), as the browser gave it: to match on resume
  std::uint64_t created = 0;   // ms
  bool publishing = false;     // claimed by a publish: no writes, no removal
  std::filesystem::path path;  // the file
  bool complete() const { return received == size; }
};

// `digits` random hex digits: an upload's id (32), a publish job's (16).
std::string random_hex(std::size_t digits);

class Uploads {
 public:
  explicit Uploads(std::filesystem::path root);  // <store>/tmp/uploads; reads what is there

  // A new upload of `size` bytes named `name`. Refused (ErrorCode::limit)
  // when the disk would keep less than kDiskReserve free after it and the
  // other uploads finish, when the store's quota (0: none) would be
  // exceeded, or with kMaxUploads unpublished.
  protocol::Result<UploadInfo> create(const std::string& name, std::uint64_t size, std::uint64_t modified,
                                      std::uint64_t store_quota, std::uint64_t store_used);
  // Writes a chunk at `offset` (at most what was received: a chunk sent
  // again after its answer was lost is written again). ErrorCode::conflict
  // for a gap, invalid_argument past the size, limit when the disk is full
  // and io when it fails otherwise (the upload is then as it was before
  // the chunk).
  protocol::Result<UploadInfo> write(const std::string& id, std::uint64_t offset, std::string_view bytes);
  protocol::Result<UploadInfo> get(const std::string& id);
  std::vector<UploadInfo> list();
  protocol::Status remove(const std::string& id);
  // Complete uploads a publish uses: nothing writes to or removes them
  // until released. Errors name the upload that is missing, unfinished or
  // already claimed.
  protocol::Result<std::vector<UploadInfo>> claim(const std::vector<std::string>& ids);
  void release(const std::vector<std::string>& ids, bool remove_them);
  const std::filesystem::path& root() const { return root_; }

 private:
  protocol::Result<UploadInfo> read(const std::string& id);  // with mutex_ held
  void expire();                                             // with mutex_ held

  std::filesystem::path root_;
  std::mutex mutex_;
  std::set<std::string> claimed_;
};

}  // namespace seedbank::node
