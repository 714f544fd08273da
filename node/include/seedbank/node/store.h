// The content-addressed file store under <data dir>/store/.
//
//   store/sha256/<2 hex>/<64 hex>   one file per distinct content
//   store/tmp/                      files being added (same filesystem)
//   store/shared.json               files served from where they are
//                                   (seedbank share): path, SHA-256, identity
//
// A file appears under its final name only after its SHA-256 is known to
// match (rename is atomic), so a reader never sees a partial or wrong file.
// Thread-safe: every operation is a filesystem call on distinct names, and
// the list of shared files is behind a mutex.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// What identifies a file's content cheaply: if any of these changed between
// hashing and storing, the hash no longer describes the bytes. The ctime
// catches what the mtime cannot (a write followed by `touch -r`, `cp -p`
// or `rsync -t` onto the same file: nobody can set a ctime), and also
// changes on chmod, chown and link counts.
struct FileIdentity {
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
  // The same bytes, ctime aside (after link(2), which changes the ctime).
  bool same_content(const FileIdentity& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
  }
};
protocol::Result<FileIdentity> file_identity(const std::filesystem::path& path);
// The same of an open file (fstat).
protocol::Result<FileIdentity> file_identity(int fd, const std::filesystem::path& path_for_errors);

// A file shared in place: the user's own file, served from where it is as
// long as its identity is the one it had when it was hashed.
struct SharedFile {
  std::filesystem::path path;  // absolute
  protocol::Sha256Digest sha256{};
  FileIdentity identity;
};

class ContentStore {
 public:
  explicit ContentStore(std::filesystem::path root);  // made absolute

  // Creates the folders (0700). Call once before use.
  protocol::Status open();

  // Where the store keeps (or would keep) this content, and whether it does.
  // Shared files are not in the store: see locate().
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

  // ---- Files shared in place (seedbank share) ----
  // A model file with this SHA-256 that can be read now: the store's copy,
  // else a shared file whose identity (device, inode, size, mtime) is still
  // the one it was hashed with; nullopt when neither. `in_place` tells the
  // two apart: a shared file must never be written to, and whoever opens
  // it checks the identity of what it opened (file_identity(fd)).
  struct Located {
    std::filesystem::path path;
    bool in_place = false;
    FileIdentity identity;  // for in_place
  };
  std::optional<Located> locate(const protocol::Sha256Digest& sha256) const;
  // Opens what locate() finds, read-only, checking that an in-place file is
  // still the one that was hashed: error conflict naming the file when it
  // changed (it is no longer served), not_found when there is none.
  protocol::Result<int> open_located(const protocol::Sha256Digest& sha256) const;
  // Adds or replaces shared files (by path) and saves shared.json; a
  // SHA-256 shared at several paths is served from the first that holds.
  // `held`: the caller holds the store lock already (publish), else it is
  // taken here.
  protocol::Status share(const std::vector<SharedFile>& files, const Lock* held = nullptr);
  // Stops sharing every file under each of `paths` (a file or a folder);
  // returns the files that were shared there. With `leave_out`, a path
  // inside a folder that stays shared is left out of later walks (the
  // user's `share --stop`); without, only the entries go (a rollback).
  protocol::Result<std::vector<SharedFile>> unshare(const std::vector<std::filesystem::path>& paths,
                                                    const Lock* held = nullptr, bool leave_out = true);
  // The shared files and folders, as shared.json lists them, and the
  // paths inside those folders that `unshare` left out of later walks.
  std::vector<SharedFile> shared_files() const;
  std::vector<std::filesystem::path> shared_folders() const;
  std::vector<std::filesystem::path> excluded_paths() const;
  // Shared folders a running node watches for new model files (share --watch).
  std::vector<std::filesystem::path> watched_folders() const;
  // Adds folders; `named`: the user named them now, so what was left out
  // inside them is taken back; `watch`: also watched, until `unshare`
  // stops them.
  protocol::Status set_shared_folders(const std::vector<std::filesystem::path>& folders, bool watch = false,
                                      bool named = true);
  // Reads shared.json again (another process, `seedbank share`, wrote it).
  // Damaged: error malformed, nothing is shared, and share/unshare refuse
  // to write over it until the user moves it away; shared_error() says so.
  protocol::Status reload_shared();
  std::string shared_error() const;

  // Bytes the stored files take on disk.
  std::uint64_t used_bytes() const;

  // Removes a stored file (used to roll back a failed publish).
  void remove(const protocol::Sha256Digest& sha256);

  const std::filesystem::path& root() const { return root_; }

 private:
  protocol::Status save_shared_locked() const;  // mutex_ held
  std::filesystem::path root_;
  mutable std::mutex mutex_;  // guards what follows
  std::vector<std::filesystem::path> folders_, excluded_, watched_;
  std::string shared_error_;
  std::map<std::filesystem::path, SharedFile> by_path_;
  std::multimap<protocol::Sha256Digest, std::filesystem::path> by_sha_;
};

}  // namespace seedbank::node
