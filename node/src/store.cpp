#include "seedbank/node/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
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
  return {};
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

protocol::Result<FileIdentity> file_identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error("cannot stat", path, errno);
  FileIdentity id;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = static_cast<std::uint64_t>(st.st_size);
  id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return id;
}

}  // namespace seedbank::node
