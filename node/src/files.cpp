#include "files.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "seedbank/protocol/content_hash.h"

namespace seedbank::node {

namespace fs = std::filesystem;
namespace p = seedbank::protocol;

namespace {

// "<path>: <what>: <strerror>", with what to do when the disk is full.
p::Error io_failure(const fs::path& path, const std::string& what, int err) {
  std::string hint = err == ENOSPC ? " (the disk is full: free space and try again)" : "";
  return p::make_error(p::ErrorCode::io, path.string() + ": " + what + ": " + std::strerror(err) + hint);
}

}  // namespace

fs::path temp_path_beside(const fs::path& dest) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char name[32];
  std::snprintf(name, sizeof name, ".sb-%016llx.tmp", static_cast<unsigned long long>(rng()));
  return dest.parent_path() / name;
}

p::Result<HeldTemp> HeldTemp::beside(const fs::path& dest) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto path = temp_path_beside(dest);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) {
      int err = errno;  // read before anything allocates
      return io_failure(dest.parent_path(), "cannot create a temporary file", err);
    }
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    // A process cleaning up at start may have taken the file for abandoned
    // between the open and the lock, and removed it: then take another.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_nlink > 0) return HeldTemp(fd, std::move(path));
    ::close(fd);
  }
  return p::make_error(p::ErrorCode::io, dest.parent_path().string() + ": cannot create a temporary file");
}

HeldTemp::HeldTemp(HeldTemp&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

HeldTemp::~HeldTemp() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still held, so nobody else removes a file of another name
  ::close(fd_);
}

p::Status HeldTemp::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      return io_failure(path_, "cannot write", err);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

p::Status HeldTemp::commit(const fs::path& dest) {
  if (::fsync(fd_) != 0) {
    int err = errno;
    return io_failure(dest, "cannot write", err);
  }
  if (::rename(path_.c_str(), dest.c_str()) != 0) {
    int err = errno;
    return io_failure(dest, "cannot move the new file into place", err);
  }
  ::close(std::exchange(fd_, -1));
  return {};
}

bool is_held_temp_name(std::string_view name) {
  constexpr std::string_view kPrefix = ".sb-", kSuffix = ".tmp";
  if (name.size() != kPrefix.size() + 16 + kSuffix.size() || !name.starts_with(kPrefix) || !name.ends_with(kSuffix))
    return false;
  auto hex = name.substr(kPrefix.size(), 16);
  return std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::size_t remove_abandoned_files(const fs::path& folder, const std::function<bool(std::string_view)>& ours) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    auto name = entry.path().filename().string();
    if (!ours(name) || !entry.is_regular_file(ec)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    // Held by a live process: still being written. Otherwise abandoned by
    // one that was killed; removed while locked, so a writer that opens it
    // meanwhile sees it gone (HeldTemp::beside) and takes another.
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlink(entry.path().c_str()) == 0) ++removed;
    ::close(fd);
  }
  return removed;
}

std::size_t remove_abandoned_temps(const fs::path& folder) { return remove_abandoned_files(folder, is_held_temp_name); }

p::Status write_file_atomically(const fs::path& dest, std::string_view bytes) {
  auto tmp = HeldTemp::beside(dest);
  if (!tmp) return tmp.error();
  if (auto st = tmp->write_all(bytes); !st)
    return p::make_error(p::ErrorCode::io, dest.string() + ": " + st.error().message + "; the previous copy is kept");
  return tmp->commit(dest);
}

namespace {

// Copies `in` to `out` in one read, hashing what is written, and checks the
// SHA-256: the placed bytes are the verified ones even if the store file was
// damaged since it was added.
p::Status copy_verified(int in, int out, const p::Sha256Digest& sha, const fs::path& dest) {
  std::vector<std::uint8_t> buf(1 << 20);
  p::Sha256Stream hash;
  for (;;) {
    ssize_t r = ::read(in, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      return io_failure(dest, "cannot read the stored copy", err);
    }
    if (r == 0) break;
    hash.update(p::ByteView(buf.data(), static_cast<std::size_t>(r)));
    for (ssize_t w = 0; w < r;) {
      ssize_t k = ::write(out, buf.data() + w, static_cast<std::size_t>(r - w));
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) {
        int err = errno;
        return io_failure(dest, "cannot write the file there", err);
      }
      w += k;
    }
  }
  if (hash.finish() != sha)
    return p::make_error(p::ErrorCode::bad_signature,
                         dest.string() +
                             ": the stored copy does not have its SHA-256 any more (damaged on disk?); "
                             "nothing was placed");
  return {};
}

}  // namespace

p::Status place_from_store(const ContentStore& store, const p::Sha256Digest& sha, const fs::path& dest) {
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return p::make_error(p::ErrorCode::io, dest.parent_path().string() + ": " + ec.message());
  remove_abandoned_temps(dest.parent_path());  // left by a placement that was killed
  // The store's copy, or a file shared in place that is still the one
  // that was hashed.
  auto where = store.locate(sha);
  auto opened = store.open_located(sha);
  if (!opened) return opened.error();
  int in = *opened;
  bool in_place = where && where->in_place;
  auto tmp = HeldTemp::beside(dest);
  if (!tmp) {
    ::close(in);
    return tmp.error();
  }
  // A file of its own, never a link to the store: a tool that rewrites the
  // placed file (a preview saved over, a model pruned in place) must not
  // change what the node serves under the old hash. A reflink shares the
  // blocks copy-on-write, instantly, where the filesystem can (Btrfs, XFS);
  // elsewhere the bytes are copied and hashed as they are written.
  p::Status copied;
  // A shared file is the user's and may change at any moment: always
  // copied and hashed, never cloned unchecked.
  if (in_place || ::ioctl(tmp->fd(), FICLONE, in) != 0) copied = copy_verified(in, tmp->fd(), sha, dest);
  ::close(in);
  if (!copied) return copied;
  return tmp->commit(dest);
}

p::Status check_regular_file(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found)
    return p::make_error(p::ErrorCode::not_found, path.string() + ": no such file; check the path");
  if (ec) return p::make_error(p::ErrorCode::io, path.string() + ": cannot read it: " + ec.message());
  const char* what = nullptr;
  switch (st.type()) {
    case fs::file_type::regular:
      return {};
    case fs::file_type::directory:
      what = "a directory";
      break;
    case fs::file_type::fifo:
      what = "a FIFO (named pipe)";
      break;
    case fs::file_type::block:
    case fs::file_type::character:
      what = "a device";
      break;
    case fs::file_type::socket:
      what = "a socket";
      break;
    default:
      what = "not a regular file";
      break;
  }
  return p::make_error(p::ErrorCode::invalid_argument,
                       path.string() + " is " + what + ", not a file; give the path of a model file or image");
}

}  // namespace seedbank::node
