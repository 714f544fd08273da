#include "http/file_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace seedbank::node {

namespace p = seedbank::protocol;

FileSource::FileSource(std::filesystem::path path, std::uint64_t size)
    : path_(std::move(path)), size_(size), ready_(size) {}

FileSource::FileSource(int fd, std::filesystem::path path, std::uint64_t size, std::optional<FileIdentity> in_place)
    : path_(std::move(path)), size_(size), ready_(size), fd_(fd), in_place_(in_place) {}

FileSource::FileSource(std::uint64_t size, std::shared_ptr<DownloadWatch> watch, std::function<void()> ask)
    : size_(size), watch_(std::move(watch)), ask_(std::move(ask)) {}

FileSource::~FileSource() { close_file(); }

void FileSource::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::uint64_t FileSource::available() const {
  if (!watch_) return ready_;
  std::lock_guard lock(watch_->mutex);
  return watch_->progress ? watch_->progress->have : 0;
}

p::Status FileSource::refresh(std::uint64_t offset) {
  auto watch = watch_;  // kept alive below, where watch_ is reset once the file is stored
  bool ask = false;
  {
    std::lock_guard lock(watch->mutex);
    if (watch->progress) {
      const auto& now = *watch->progress;
      if (!now.error.empty()) return p::make_error(p::ErrorCode::io, now.error);
      if (now.path != path_) {  // found, or moved into the store: same bytes, new name
        close_file();
        path_ = now.path;
        lost_ = false;
      }
      ready_ = now.ready;
      if (now.stored) watch_.reset();
    }
    if (watch_ && (offset >= ready_ || lost_) && !watch->asking &&
        std::chrono::steady_clock::now() - watch->asked > std::chrono::milliseconds(100)) {
      watch->asking = true;
      watch->asked = std::chrono::steady_clock::now();
      watch->from = offset;
      ask = true;
    }
  }
  // Outside the lock: when the node is shutting down, `ask_` records that
  // in the watch under the same mutex.
  if (ask) ask_();
  return {};
}

p::Result<std::size_t> FileSource::read(std::uint64_t offset, char* out, std::size_t n) {
  if (watch_ && (offset >= ready_ || lost_))
    if (auto st = refresh(offset); !st) return st.error();
  if (offset >= ready_) return std::size_t{0};  // not here yet
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      int err = errno;
      if (watch_ && err == ENOENT) {  // moved into the store since the last report
        lost_ = true;
        return std::size_t{0};
      }
      return p::make_error(p::ErrorCode::io, path_.string() + ": " + std::strerror(err));
    }
  }
  auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, ready_ - offset));
  ssize_t got = ::pread(fd_, out, want, static_cast<off_t>(offset));
  if (got < 0) return p::make_error(p::ErrorCode::io, path_.string() + ": " + std::strerror(errno));
  if (in_place_) {  // after the read, so a write during it is seen: one fstat, cheap next to the read
    auto now = file_identity(fd_, path_);
    if (!now || *now != *in_place_)
      return p::make_error(p::ErrorCode::conflict,
                           path_.string() + ": the shared file changed while it was being sent; the download stops");
  }
  if (got == 0) {
    if (watch_) {  // not written out yet, or an old name: look again
      close_file();
      lost_ = true;
      return std::size_t{0};
    }
    return p::make_error(p::ErrorCode::io, path_.string() + ": shorter than its release says");
  }
  lost_ = false;  // found: later reads need a new report only for more bytes
  return static_cast<std::size_t>(got);
}

std::string image_type_of(const std::filesystem::path& path) {
  char head[12] = {};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? ::pread(fd, head, sizeof head, 0) : -1;
  if (fd >= 0) ::close(fd);
  std::string_view h(head, got > 0 ? static_cast<std::size_t>(got) : 0);
  if (h.starts_with("\x89PNG")) return "image/png";
  if (h.starts_with("\xff\xd8")) return "image/jpeg";
  if (h.size() == 12 && h.substr(0, 4) == "RIFF" && h.substr(8, 4) == "WEBP") return "image/webp";
  if (h.starts_with("\x1a\x45\xdf\xa3")) return "video/webm";
  if (h.size() == 12 && h.substr(4, 4) == "ftyp") {
    for (std::string_view still : {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis"})
      if (h.substr(8, 4) == still) return "";
    return "video/mp4";
  }
  return "";
}

ArrivingFile::ArrivingFile(const ContentStore& store, const p::Sha256Digest& sha256, std::uint64_t size,
                           std::chrono::steady_clock::time_point give_up_at)
    : store_(store), sha256_(sha256), size_(size), give_up_at_(give_up_at) {}

std::uint64_t ArrivingFile::available() const { return stored_ ? size_ : 0; }

BodySource::Readiness ArrivingFile::readiness() {
  if (stored_) return Readiness::ready;
  if (not_image_) return Readiness::give_up;
  if (store_.contains(sha256_)) {
    mime_ = image_type_of(store_.path_of(sha256_));
    if (mime_.empty()) {
      not_image_ = true;
      return Readiness::give_up;
    }
    std::error_code ec;
    auto size = std::filesystem::file_size(store_.path_of(sha256_), ec);
    stored_ = std::make_unique<FileSource>(store_.path_of(sha256_), ec ? size_ : size);
    size_ = ec ? size_ : size;
    return Readiness::ready;
  }
  return std::chrono::steady_clock::now() > give_up_at_ ? Readiness::give_up : Readiness::wait;
}

std::string ArrivingFile::give_up_reason() const {
  if (not_image_) return "file " + p::to_hex(sha256_) + " is not a PNG, JPEG or WebP image, nor an MP4 or WebM video";
  return "image " + p::to_hex(sha256_) + " is still being fetched from peers; try again in a few seconds";
}

p::Result<std::size_t> ArrivingFile::read(std::uint64_t offset, char* out, std::size_t n) {
  if (!stored_ && readiness() != Readiness::ready)
    return p::make_error(p::ErrorCode::io, "image " + p::to_hex(sha256_) + " is not here");
  return stored_->read(offset, out, n);
}

}  // namespace seedbank::node
