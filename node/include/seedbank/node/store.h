// The content-addressed file store under <data dir>/store/.
//
//   store/sha256/<2 hex>/<64 hex>   one file per distinct content
//   store/tmp/                      files being added (same filesystem)
//
// A file appears under its final name only after its SHA-256 is known to
// match (rename is atomic), so a reader never sees a partial or wrong file.
// Thread-safe: every operation is a filesystem call on distinct names.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

class ContentStore {
 public:
  explicit ContentStore(std::filesystem::path root);  // made absolute

  // Creates the folders (0700). Call once before use.
  protocol::Status open();

  std::filesystem::path path_of(const protocol::Sha256Digest& sha256) const;
  bool contains(const protocol::Sha256Digest& sha256) const;

  enum class AddMode {
    copy,      // copy_file_range: a reflink on filesystems that support it
    hardlink,  // link(2): no copy; the original must then never be edited
  };
  struct Added {
    std::filesystem::path path;
    bool was_new = false;  // false: the content was already stored
  };
  // Adds `source`, whose SHA-256 the caller computed, unless that content is
  // stored already. The caller checks that `source` did not change since it
  // was hashed (size and mtime, see FileIdentity).
  protocol::Result<Added> add(const std::filesystem::path& source, const protocol::Sha256Digest& sha256, AddMode mode);

  // An exclusive lock on the store (flock on store/lock), across processes.
  // Publish holds it from adding files until its record is in the index, so
  // a rollback can never remove a file another publish just came to need.
  class Lock {
   public:
    Lock(Lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Lock& operator=(Lock&&) = delete;
    ~Lock();

   private:
    friend class ContentStore;
    explicit Lock(int fd) : fd_(fd) {}
    int fd_;
  };
  protocol::Result<Lock> lock();
  // The same without waiting: nullopt while another process holds it.
  protocol::Result<std::optional<Lock>> try_lock();

  // Bytes the stored files take on disk.
  std::uint64_t used_bytes() const;

  // Removes a stored file (used to roll back a failed publish).
  void remove(const protocol::Sha256Digest& sha256);

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

// What identifies a file's content cheaply: if any of these changed between
// hashing and storing, the hash no longer describes the bytes.
struct FileIdentity {
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};
protocol::Result<FileIdentity> file_identity(const std::filesystem::path& path);

}  // namespace seedbank::node
