// A model file as an HTTP body: from the content store, or from a download
// that is still running, read as its pieces pass their checks.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "seedbank/node/store.h"
#include "seedbank/node/torrents.h"
#include "server.h"

namespace seedbank::node {

// A download's progress as the node thread last reported it. HTTP threads
// only read it; jobs on the node thread write it. Never waited on.
struct DownloadWatch {
  std::mutex mutex;
  std::optional<TorrentService::FileProgress> progress;  // none yet: starting
  bool asking = false;                                   // a refresh job is posted
  std::uint64_t from = 0;                                // where the reader is: what it needs next
  std::chrono::steady_clock::time_point asked{};
};

// A file read with pread. Either complete at `path`, or a download that
// `watch` reports on: `ask` posts a job that refreshes the watch, at most
// every 100 ms, whenever a read needs more than the last report gave (more
// bytes, or the file's new name once it moved into the store).
class FileSource final : public BodySource {
 public:
  FileSource(std::filesystem::path path, std::uint64_t size);
  // A complete file already open (ContentStore::open_located); takes `fd`.
  // `in_place`: a user's file shared in place, whose identity is checked
  // before every read: a write to it ends the answer with an error rather
  // than sending other bytes under the file's SHA-256.
  FileSource(int fd, std::filesystem::path path, std::uint64_t size, std::optional<FileIdentity> in_place = {});
  FileSource(std::uint64_t size, std::shared_ptr<DownloadWatch> watch, std::function<void()> ask);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  std::uint64_t size() const override { return size_; }
  std::uint64_t available() const override;
  protocol::Result<std::size_t> read(std::uint64_t offset, char* out, std::size_t n) override;

 private:
  // Takes the watch's latest report; asks for a new one when `offset` is
  // past it or the file must be found again. An error the download ended
  // with is returned.
  protocol::Status refresh(std::uint64_t offset);
  void close_file();

  std::filesystem::path path_;
  std::uint64_t size_;
  std::uint64_t ready_ = 0;
  std::shared_ptr<DownloadWatch> watch_;  // reset once the file is in the store
  std::function<void()> ask_;
  bool lost_ = false;  // the file was not where the last report said: ask again
  int fd_ = -1;
  std::optional<FileIdentity> in_place_;
};

// The type of the image or video file at `path` by its first bytes:
// "image/png", "image/jpeg", "image/webp", "video/mp4" (an ISO box file of
// a brand other than HEIF's and AVIF's) or "video/webm" (EBML), else "" (not
// one of them, or unreadable).
// What the store holds is served by this, never by what a record claims.
std::string image_type_of(const std::filesystem::path& path);

// A file on its way into the store (an image being fetched from peers):
// the answer is held (readiness() says wait) until the verified file is
// stored, then sent whole, so a client that asks once gets it; not stored
// by `give_up_at`: 503 with Retry-After instead.
class ArrivingFile final : public BodySource {
 public:
  ArrivingFile(const ContentStore& store, const protocol::Sha256Digest& sha256, std::uint64_t size,
               std::chrono::steady_clock::time_point give_up_at);
  std::uint64_t size() const override { return size_; }
  std::uint64_t available() const override;
  Readiness readiness() override;
  std::string give_up_reason() const override;
  // PNG, JPEG or WebP, by the stored bytes: never what a record claims.
  std::string content_type() const override { return mime_; }
  protocol::Result<std::size_t> read(std::uint64_t offset, char* out, std::size_t n) override;

 private:
  const ContentStore& store_;
  std::string mime_;
  bool not_image_ = false;
  protocol::Sha256Digest sha256_;
  std::uint64_t size_;
  std::chrono::steady_clock::time_point give_up_at_;
  std::unique_ptr<FileSource> stored_;  // once it is in the store
};

}  // namespace seedbank::node
