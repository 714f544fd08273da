#include "files.h"

#include <cstdio>
#include <fstream>
#include <random>

#include "seedbank/protocol/content_hash.h"

namespace seedbank::node {

namespace fs = std::filesystem;
namespace p = seedbank::protocol;

fs::path temp_path_beside(const fs::path& dest) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char name[32];
  std::snprintf(name, sizeof name, ".sb-%016llx.tmp", static_cast<unsigned long long>(rng()));
  return dest.parent_path() / name;
}

p::Status replace_file(const fs::path& tmp, const fs::path& dest) {
  std::error_code ec;
  fs::rename(tmp, dest, ec);
  if (!ec) return {};
  std::error_code ignore;
  fs::remove(tmp, ignore);
  return p::make_error(p::ErrorCode::io, dest.string() + ": " + ec.message());
}

p::Status write_file_atomically(const fs::path& dest, std::string_view bytes) {
  auto tmp = temp_path_beside(dest);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();  // a full disk often shows only when the buffer is flushed
    if (!out) {
      std::error_code ignore;
      fs::remove(tmp, ignore);
      return p::make_error(p::ErrorCode::io, dest.string() + ": cannot write (disk full?); the previous copy is kept");
    }
  }
  return replace_file(tmp, dest);
}

p::Status place_from_store(const ContentStore& store, const p::Sha256Digest& sha, const fs::path& dest) {
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return p::make_error(p::ErrorCode::io, dest.parent_path().string() + ": " + ec.message());
  auto tmp = temp_path_beside(dest);
  fs::create_hard_link(store.path_of(sha), tmp, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(store.path_of(sha), tmp, ec);
    auto copied = ec ? p::Result<p::FileDigests>(p::make_error(p::ErrorCode::io, ec.message())) : p::hash_file(tmp);
    if (!copied || copied->sha256 != sha) {
      std::error_code ignore;
      fs::remove(tmp, ignore);
      if (ec)
        return p::make_error(p::ErrorCode::io,
                             dest.string() + ": cannot copy the file there: " + ec.message() + " (is the disk full?)");
      return p::make_error(p::ErrorCode::bad_signature, dest.string() + ": the copy does not have the right SHA-256");
    }
  }
  return replace_file(tmp, dest);
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
