#include "seedbank/node/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include "files.h"

namespace seedbank::node {
namespace {

using protocol::ErrorCode;
using protocol::make_error;

protocol::Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  std::string hint;
  if (err == ENOSPC) hint = "; the disk is full: free space and try again";
  if (err == EXDEV) hint = "; --link needs the file on the same filesystem as the data dir";
  return make_error(ErrorCode::io, path.string() + ": " + what + ": " + std::strerror(err) + hint);
}

// Copies with copy_file_range (in-kernel; reflinks where supported).
protocol::Status copy_contents(int in, int out, std::uint64_t size, const std::filesystem::path& source) {
  std::uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
      // Fall back to read/write.
      std::vector<char> buf(1 << 20);
      for (;;) {
        ssize_t r = ::pread(in, buf.data(), buf.size(), static_cast<off_t>(done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error("read failed", source, errno);
        if (r == 0) break;
        for (ssize_t w = 0; w < r;) {
          ssize_t k = ::write(out, buf.data() + w, static_cast<std::size_t>(r - w));
          if (k < 0 && errno == EINTR) continue;
          if (k < 0) return io_error("write to the store failed", source, errno);
          w += k;
        }
        done += static_cast<std::uint64_t>(r);
      }
      break;
    }
    if (n < 0) return io_error("copy into the store failed", source, errno);
    if (n == 0) break;
    done += static_cast<std::uint64_t>(n);
  }
  if (done != size) return make_error(ErrorCode::io, source.string() + ": the file changed size while it was copied");
  return {};
}

}  // namespace

ContentStore::ContentStore(std::filesystem::path root) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(root, ec);
  root_ = ec ? std::move(root) : absolute.lexically_normal();
}

protocol::Status ContentStore::open() {
  for (const auto& dir : {root_, root_ / "sha256", root_ / "tmp"}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(ErrorCode::io, dir.string() + ": cannot create store folder: " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  // What a process killed mid-add, mid-upload or mid-fetch left: never
  // renamed into place, so never visible; what a live process holds stays.
  remove_abandoned_files(root_ / "tmp", [](std::string_view) { return true; });
  // A damaged shared.json shares nothing and is kept for the user to look
  // at (shared_error() says what is wrong): commands and the node still run.
  (void)reload_shared();
  return {};
}

std::string ContentStore::shared_error() const {
  std::lock_guard guard(mutex_);
  return shared_error_;
}

std::filesystem::path ContentStore::path_of(const protocol::Sha256Digest& sha256) const {
  std::string hex = protocol::to_hex(sha256);
  return root_ / "sha256" / hex.substr(0, 2) / hex;
}

bool ContentStore::contains(const protocol::Sha256Digest& sha256) const {
  std::error_code ec;
  return std::filesystem::is_regular_file(path_of(sha256), ec);
}

protocol::Result<ContentStore::Added> ContentStore::add(const std::filesystem::path& source,
                                                        const protocol::Sha256Digest& sha256, AddMode mode) {
  auto final_path = path_of(sha256);
  if (contains(sha256)) return Added{final_path, false};
  std::error_code ec;
  std::filesystem::create_directories(final_path.parent_path(), ec);
  if (ec) return make_error(ErrorCode::io, final_path.parent_path().string() + ": " + ec.message());

  if (mode == AddMode::hardlink) {
    // A link is made whole or not at all: straight to its final name.
    if (::link(source.c_str(), final_path.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return Added{final_path, false};  // stored meanwhile by another process
      return io_error("cannot hard-link into the store", source, err);
    }
  } else {
    int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return io_error("cannot open", source, errno);
    struct stat st {};
    ::fstat(in, &st);
    auto tmp = HeldTemp::beside(root_ / "tmp" / "add");
    if (!tmp) {
      ::close(in);
      return tmp.error();
    }
    auto copied = copy_contents(in, tmp->fd(), static_cast<std::uint64_t>(st.st_size), source);
    ::close(in);
    if (!copied) return copied.error();
    if (auto st = tmp->commit(final_path); !st) return st.error();
  }
  // The rename itself must survive power loss before a record points here.
  if (int dir = ::open(final_path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Added{final_path, true};
}

protocol::Result<ContentStore::Lock> ContentStore::lock() {
  auto path = root_ / "lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot open the store lock", path, errno);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return io_error("cannot lock the store", path, err);
  }
  return Lock(fd);
}

protocol::Result<std::optional<ContentStore::Lock>> ContentStore::try_lock() {
  auto path = root_ / "lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot open the store lock", path, errno);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::optional<Lock>();
    return io_error("cannot lock the store", path, err);
  }
  return std::optional<Lock>(Lock(fd));
}

ContentStore::Lock::~Lock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

std::uint64_t ContentStore::used_bytes() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root_ / "sha256", ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (it->is_regular_file(ec) && ::stat(it->path().c_str(), &st) == 0)
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

void ContentStore::remove(const protocol::Sha256Digest& sha256) {
  std::error_code ec;
  std::filesystem::remove(path_of(sha256), ec);
}

namespace {
FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = static_cast<std::uint64_t>(st.st_size);
  id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return id;
}
}  // namespace

protocol::Result<FileIdentity> file_identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error("cannot stat", path, errno);
  return identity_of(st);
}

protocol::Result<FileIdentity> file_identity(int fd, const std::filesystem::path& path_for_errors) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", path_for_errors, errno);
  return identity_of(st);
}

// ---- files shared in place ----

std::optional<ContentStore::Located> ContentStore::locate(const protocol::Sha256Digest& sha256) const {
  if (contains(sha256)) return Located{path_of(sha256), false, {}};
  std::lock_guard guard(mutex_);
  for (auto [it, end] = by_sha_.equal_range(sha256); it != end; ++it) {
    const auto& shared = by_path_.at(it->second);
    auto now = file_identity(shared.path);
    if (now && *now == shared.identity) return Located{shared.path, true, shared.identity};
  }
  return std::nullopt;
}

protocol::Result<int> ContentStore::open_located(const protocol::Sha256Digest& sha256) const {
  auto where = locate(sha256);
  if (!where)
    return make_error(ErrorCode::not_found, "no file with SHA-256 " + protocol::to_hex(sha256) + " on this node");
  int fd = ::open(where->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", where->path, errno);
  if (where->in_place) {
    // The file opened may not be the one located a moment ago.
    auto now = file_identity(fd, where->path);
    if (!now || *now != where->identity) {
      ::close(fd);
      return make_error(ErrorCode::conflict, where->path.string() +
                                                 ": the shared file changed since it was hashed, so it is no longer "
                                                 "served; run `seedbank share` on its folder again");
    }
  }
  return fd;
}

namespace {
std::filesystem::path shared_list_path(const std::filesystem::path& root) { return root / "shared.json"; }
}  // namespace

protocol::Status ContentStore::reload_shared() {
  auto path = shared_list_path(root_);
  std::vector<std::filesystem::path> folders;
  std::map<std::filesystem::path, SharedFile> by_path;
  std::vector<std::filesystem::path> excluded, watched;
  auto damaged = [&](const std::string& what) {
    auto error = make_error(ErrorCode::malformed, path.string() + ": " + what +
                                                      "; nothing is shared until it is fixed or moved away (then "
                                                      "share your folders again)");
    std::lock_guard guard(mutex_);
    shared_error_ = error.message;
    folders_.clear();
    excluded_.clear();
    watched_.clear();
    by_path_.clear();
    by_sha_.clear();
    return error;
  };
  if (std::ifstream in(path); in) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return damaged("not the JSON object `seedbank share` writes");
    // Strict: what this code would not write is damage, and saving over it
    // would lose the user's list.
    for (const char* key : {"folders", "excluded", "watched", "files"})
      if (j.contains(key) && !j[key].is_array()) return damaged(std::string("\"") + key + "\" is not a list");
    try {
      for (const auto& f : j.value("folders", nlohmann::json::array())) folders.emplace_back(f.get<std::string>());
      for (const auto& f : j.value("excluded", nlohmann::json::array())) excluded.emplace_back(f.get<std::string>());
      for (const auto& f : j.value("watched", nlohmann::json::array())) watched.emplace_back(f.get<std::string>());
      for (const auto& f : j.value("files", nlohmann::json::array())) {
        if (!f.is_object()) return damaged("an entry of \"files\" is not an object");
        auto sha = protocol::from_hex_fixed<32>(f.at("sha256").get<std::string>());
        if (!sha) return damaged("an entry of \"files\" has no SHA-256 of 64 hex digits");
        SharedFile s;
        s.path = f.at("path").get<std::string>();
        s.sha256 = *sha;
        s.identity.device = f.value("device", std::uint64_t{0});
        s.identity.inode = f.value("inode", std::uint64_t{0});
        s.identity.size = f.value("size", std::uint64_t{0});
        s.identity.mtime_ns = f.value("mtimeNs", std::int64_t{0});
        s.identity.ctime_ns = f.value("ctimeNs", std::int64_t{0});
        by_path[s.path] = s;
      }
    } catch (const nlohmann::json::exception& e) {  // a field missing or of the wrong type
      return damaged(std::string("a field is missing or has the wrong type (") + e.what() + ")");
    }
  }
  std::lock_guard guard(mutex_);
  shared_error_.clear();
  excluded_ = std::move(excluded);
  watched_ = std::move(watched);
  folders_ = std::move(folders);
  by_path_ = std::move(by_path);
  by_sha_.clear();
  for (const auto& [p, s] : by_path_) by_sha_.emplace(s.sha256, p);
  return {};
}

protocol::Status ContentStore::save_shared_locked() const {
  nlohmann::json j = {
      {"folders", nlohmann::json::array()}, {"excluded", nlohmann::json::array()}, {"files", nlohmann::json::array()}};
  for (const auto& f : folders_) j["folders"].push_back(f.string());
  for (const auto& f : excluded_) j["excluded"].push_back(f.string());
  j["watched"] = nlohmann::json::array();
  for (const auto& f : watched_) j["watched"].push_back(f.string());
  for (const auto& [p, s] : by_path_)
    j["files"].push_back({{"path", p.string()},
                          {"sha256", protocol::to_hex(s.sha256)},
                          {"device", s.identity.device},
                          {"inode", s.identity.inode},
                          {"size", s.identity.size},
                          {"mtimeNs", s.identity.mtime_ns},
                          {"ctimeNs", s.identity.ctime_ns}});
  return write_file_atomically(shared_list_path(root_), j.dump(1) + "\n");
}

protocol::Status ContentStore::share(const std::vector<SharedFile>& files, const Lock* held) {
  std::optional<Lock> taken;  // one writer of shared.json at a time, across processes
  if (!held) {
    auto l = lock();
    if (!l) return l.error();
    taken.emplace(std::move(l).value());
  }
  if (auto st = reload_shared(); !st) return st;
  std::lock_guard guard(mutex_);
  for (const auto& f : files) {
    if (auto old = by_path_.find(f.path); old != by_path_.end()) {
      for (auto [it, end] = by_sha_.equal_range(old->second.sha256); it != end; ++it)
        if (it->second == f.path) {
          by_sha_.erase(it);
          break;
        }
    }
    by_path_[f.path] = f;
    by_sha_.emplace(f.sha256, f.path);
  }
  return save_shared_locked();
}

protocol::Result<std::vector<SharedFile>> ContentStore::unshare(const std::vector<std::filesystem::path>& paths,
                                                                const Lock* held, bool leave_out) {
  std::optional<Lock> taken;
  if (!held) {
    auto l = lock();
    if (!l) return l.error();
    taken.emplace(std::move(l).value());
  }
  if (auto st = reload_shared(); !st) return st.error();
  std::lock_guard guard(mutex_);
  std::vector<SharedFile> removed;
  auto under = [](const std::filesystem::path& file, const std::filesystem::path& top) {
    auto rel = file.lexically_relative(top);
    return !rel.empty() && *rel.begin() != "..";
  };
  for (auto it = by_path_.begin(); it != by_path_.end();) {
    bool hit = false;
    for (const auto& p : paths) hit = hit || it->first == p || under(it->first, p);
    if (!hit) {
      ++it;
      continue;
    }
    removed.push_back(it->second);
    for (auto [s, end] = by_sha_.equal_range(it->second.sha256); s != end; ++s)
      if (s->second == it->first) {
        by_sha_.erase(s);
        break;
      }
    it = by_path_.erase(it);
  }
  if (!leave_out) {  // the entries only (a rollback)
    if (auto st = save_shared_locked(); !st) return st.error();
    return removed;
  }
  auto stopped = [&](const std::filesystem::path& f) {
    for (const auto& p : paths)
      if (f == p || under(f, p)) return true;
    return false;
  };
  std::erase_if(folders_, stopped);
  std::erase_if(watched_, stopped);
  // A path inside a folder that stays shared: left out of later walks.
  for (const auto& p : paths)
    for (const auto& f : folders_)
      if (under(p, f) && std::find(excluded_.begin(), excluded_.end(), p) == excluded_.end()) {
        excluded_.push_back(p);
        break;
      }
  if (auto st = save_shared_locked(); !st) return st.error();
  return removed;
}

std::vector<SharedFile> ContentStore::shared_files() const {
  std::lock_guard guard(mutex_);
  std::vector<SharedFile> out;
  for (const auto& [p, s] : by_path_) out.push_back(s);
  return out;
}

std::vector<std::filesystem::path> ContentStore::shared_folders() const {
  std::lock_guard guard(mutex_);
  return folders_;
}

std::vector<std::filesystem::path> ContentStore::watched_folders() const {
  std::lock_guard guard(mutex_);
  return watched_;
}

protocol::Status ContentStore::set_shared_folders(const std::vector<std::filesystem::path>& folders, bool watch,
                                                  bool named) {
  auto held = lock();
  if (!held) return held.error();
  if (auto st = reload_shared(); !st) return st;
  std::lock_guard guard(mutex_);
  for (const auto& f : folders) {
    if (std::find(folders_.begin(), folders_.end(), f) == folders_.end()) folders_.push_back(f);
    if (watch && std::find(watched_.begin(), watched_.end(), f) == watched_.end()) watched_.push_back(f);
    // Shared again by name: what was left out inside it comes back.
    if (named)
      std::erase_if(excluded_, [&](const std::filesystem::path& e) {
        auto rel = e.lexically_relative(f);
        return e == f || (!rel.empty() && *rel.begin() != "..");
      });
  }
  return save_shared_locked();
}

std::vector<std::filesystem::path> ContentStore::excluded_paths() const {
  std::lock_guard guard(mutex_);
  return excluded_;
}

}  // namespace seedbank::node
