#include "http/uploads.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "files.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node {

namespace fs = std::filesystem;
namespace p = seedbank::protocol;
using p::ErrorCode;
using p::make_error;

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

bool is_upload_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

p::Error unknown(const std::string& id) {
  return make_error(ErrorCode::not_found, "no upload " + id.substr(0, 40) +
                                              " on this node (finished uploads go once published, unfinished ones "
                                              "after a week untouched); upload the file again");
}

}  // namespace

std::string random_hex(std::size_t digits) {
  std::random_device random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < digits; ++i) out += kHex[random() & 15];
  return out;
}

Uploads::Uploads(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  std::lock_guard lock(mutex_);
  expire();
}

p::Result<UploadInfo> Uploads::read(const std::string& id) {
  if (!is_upload_id(id)) return unknown(id);
  auto dir = root_ / id;
  std::ifstream in(dir / "upload.json", std::ios::binary);
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("size") ||
      !j["size"].is_number_unsigned())
    return unknown(id);
  UploadInfo info;
  info.id = id;
  info.name = j["name"].get<std::string>();
  info.size = j["size"].get<std::uint64_t>();
  info.modified = j.value("modified", std::uint64_t{0});
  info.created = j.value("created", std::uint64_t{0});
  if (!p::validate_file_name(info.name)) return unknown(id);
  info.path = dir / "file" / info.name;
  struct stat st {};
  if (::lstat(info.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return unknown(id);
  info.received = static_cast<std::uint64_t>(st.st_size);
  info.publishing = claimed_.count(id) > 0;
  return info;
}

void Uploads::expire() {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - kUploadLifetime;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    auto id = entry.path().filename().string();
    if (claimed_.count(id)) continue;
    auto info = read(id);
    std::error_code e2;
    // Half-made folders (no upload.json yet) are as old as their folder.
    auto touched = info ? fs::last_write_time(info->path, e2) : fs::last_write_time(entry.path(), e2);
    if (e2 || touched < cutoff) fs::remove_all(entry.path(), e2);
  }
}

p::Result<UploadInfo> Uploads::create(const std::string& name, std::uint64_t size, std::uint64_t modified,
                                      std::uint64_t store_quota, std::uint64_t store_used) {
  if (auto st = p::validate_file_name(name); !st)
    return make_error(ErrorCode::invalid_argument, "name: " + st.error().message);
  if (size == 0) return make_error(ErrorCode::invalid_argument, name + " is empty; there is nothing to share");
  if (size > kMaxUploadSize)
    return make_error(ErrorCode::limit, name + ": " + std::to_string(size) + " bytes is larger than any disk");
  std::lock_guard lock(mutex_);
  expire();
  std::uint64_t to_come = 0, held = 0;
  std::size_t count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    auto info = read(entry.path().filename().string());
    if (!info) continue;
    ++count;
    held += info->received;
    to_come += info->size - std::min(info->size, info->received);
  }
  if (count >= kMaxUploads)
    return make_error(ErrorCode::limit, "this node holds " + std::to_string(count) +
                                            " uploads not yet published; publish or cancel some first");
  // (No sum overflows: every size is at most kMaxUploadSize, 2^50.)
  if (store_quota > 0 && store_used + held + to_come + size > store_quota)
    return make_error(ErrorCode::limit, name + " (" + mib(size) + ") would take the store past its quota of " +
                                            mib(store_quota) + " (" + mib(store_used + held + to_come) +
                                            " used or on its way); free space in the store or raise storeQuota");
  struct statvfs fs_stat {};
  if (::statvfs(root_.c_str(), &fs_stat) == 0) {
    std::uint64_t free_bytes = static_cast<std::uint64_t>(fs_stat.f_bavail) * fs_stat.f_frsize;
    if (free_bytes < size + to_come + kDiskReserve)
      return make_error(ErrorCode::limit,
                        name + " (" + mib(size) + ") does not fit on this node's disk: " + mib(free_bytes) + " free, " +
                            mib(to_come) + " more on its way for other uploads, and " + mib(kDiskReserve) +
                            " kept free; free space, or give the path of the file on this machine "
                            "instead of uploading it");
  }
  UploadInfo info;
  info.id = random_hex(32);
  info.name = name;
  info.size = size;
  info.modified = modified;
  info.created = now_ms();
  auto dir = root_ / info.id;
  info.path = dir / "file" / name;  // a folder of its own: no name can be upload.json's
  if (!fs::create_directories(info.path.parent_path(), ec) || ec)
    return make_error(ErrorCode::io, "cannot make room for the upload in the store's folder: " + ec.message());
  int fd = ::open(info.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    fs::remove_all(dir, ec);
    return make_error(ErrorCode::io, name + ": cannot create the upload: " + std::strerror(err));
  }
  ::close(fd);
  nlohmann::json j = {{"name", name}, {"size", size}, {"modified", modified}, {"created", info.created}};
  if (auto st = write_file_atomically(dir / "upload.json", j.dump()); !st) {
    fs::remove_all(dir, ec);
    return make_error(ErrorCode::io, name + ": cannot record the upload: " + st.error().message);
  }
  return info;
}

p::Result<UploadInfo> Uploads::write(const std::string& id, std::uint64_t offset, std::string_view bytes) {
  std::lock_guard lock(mutex_);
  auto info = read(id);
  if (!info) return info.error();
  if (info->publishing)
    return make_error(ErrorCode::conflict, info->name + " is being published; it can no longer change");
  if (offset > info->received)
    return make_error(ErrorCode::conflict, info->name + ": the node has " + std::to_string(info->received) +
                                               " bytes, so a chunk at " + std::to_string(offset) +
                                               " would leave a gap; send from " + std::to_string(info->received));
  if (bytes.size() > info->size - offset)
    return make_error(ErrorCode::invalid_argument, info->name + " was announced as " + std::to_string(info->size) +
                                                       " bytes; a chunk of " + std::to_string(bytes.size()) + " at " +
                                                       std::to_string(offset) + " goes past its end");
  int fd = ::open(info->path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    return make_error(ErrorCode::io, info->name + ": cannot open the upload: " + std::strerror(err));
  }
  std::size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    auto n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (err) {
    // What arrived before this chunk stays; the chunk's part is undone.
    if (offset + done > info->received) (void)::ftruncate(fd, static_cast<off_t>(info->received));
    ::close(fd);
    return make_error(
        err == ENOSPC || err == EDQUOT ? ErrorCode::limit : ErrorCode::io,
        info->name + ": the chunk at " + std::to_string(offset) + " could not be written: " + std::strerror(err) +
            (err == ENOSPC || err == EDQUOT ? "; the node's disk is full: free space, then resume the upload" : ""));
  }
  ::close(fd);
  info->received = std::max(info->received, offset + bytes.size());
  return info;
}

p::Result<UploadInfo> Uploads::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  return read(id);
}

std::vector<UploadInfo> Uploads::list() {
  std::lock_guard lock(mutex_);
  std::vector<UploadInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec))
    if (auto info = read(entry.path().filename().string())) out.push_back(std::move(*info));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created < b.created; });
  return out;
}

p::Status Uploads::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto info = read(id);
  if (!info) return info.error();
  if (info->publishing)
    return make_error(ErrorCode::conflict, info->name + " is being published; wait for the publish to end");
  std::error_code ec;
  fs::remove_all(root_ / id, ec);
  if (ec) return make_error(ErrorCode::io, info->name + ": the upload could not be removed: " + ec.message());
  return {};
}

p::Result<std::vector<UploadInfo>> Uploads::claim(const std::vector<std::string>& ids) {
  std::lock_guard lock(mutex_);
  std::vector<UploadInfo> out;
  for (const auto& id : ids) {
    auto info = read(id);
    if (!info) return info.error();
    if (info->publishing || std::any_of(out.begin(), out.end(), [&](const auto& o) { return o.id == id; }))
      return make_error(ErrorCode::conflict, info->name + " is already being published");
    if (!info->complete())
      return make_error(ErrorCode::invalid_argument, info->name + ": only " + std::to_string(info->received) + " of " +
                                                         std::to_string(info->size) +
                                                         " bytes have arrived; finish the upload first");
    out.push_back(std::move(*info));
  }
  for (auto& o : out) {
    claimed_.insert(o.id);
    o.publishing = true;
  }
  return out;
}

void Uploads::release(const std::vector<std::string>& ids, bool remove_them) {
  std::lock_guard lock(mutex_);
  for (const auto& id : ids) {
    claimed_.erase(id);
    if (remove_them && is_upload_id(id)) {
      std::error_code ec;
      fs::remove_all(root_ / id, ec);
    }
  }
}

}  // namespace seedbank::node
