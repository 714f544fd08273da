#include "library.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>

#include "files.h"

namespace seedbank::node {

namespace p = seedbank::protocol;
namespace fs = std::filesystem;

namespace {

std::string lower_extension(const fs::path& path) {
  auto ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// The format the first bytes show, or "" when they are not the format the
// extension names.
std::string sniff(const fs::path& path, const std::string& ext, std::uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::string("!") + std::strerror(errno);  // "!<why>": unreadable
  unsigned char head[16] = {};
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n < 9) return "";
  if (ext == ".safetensors" || ext == ".sft") {
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | head[i];
    return header >= 2 && header <= size - 8 && head[8] == '{' ? "safetensors" : "";
  }
  if (ext == ".gguf") return std::memcmp(head, "GGUF", 4) == 0 ? "gguf" : "";
  // PyTorch: a zip archive of pickles (torch.save since 1.6), or a bare
  // pickle (protocol 2+ starts with 0x80).
  if (std::memcmp(head, "PK\x03\x04", 4) == 0) return "zip-pickle";
  if (head[0] == 0x80 && head[1] >= 2 && head[1] <= 5) return "pickle";
  return "";
}

const std::set<std::string>& model_extensions() {
  static const std::set<std::string> kExtensions = {".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf"};
  return kExtensions;
}

std::string key_of(const FileIdentity& id) {
  return std::to_string(id.device) + ":" + std::to_string(id.inode) + ":" + std::to_string(id.size) + ":" +
         std::to_string(id.mtime_ns) + ":" + std::to_string(id.ctime_ns);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

bool is_model_file_name(const fs::path& path) { return model_extensions().count(lower_extension(path)) > 0; }

LibraryWalk walk_library(const std::vector<fs::path>& roots, const std::vector<fs::path>& excluded) {
  LibraryWalk out;
  auto left_out = [&](const fs::path& path) {
    for (const auto& e : excluded) {
      auto rel = path.lexically_relative(e);
      if (path == e || (!rel.empty() && *rel.begin() != "..")) return true;
    }
    return false;
  };
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen_dirs, seen_files;
  std::vector<fs::path> pending;
  auto consider_file = [&](const fs::path& path, const struct stat& st) {
    auto ext = lower_extension(path);
    if (!model_extensions().count(ext)) return;
    if (!seen_files.insert({st.st_dev, st.st_ino}).second) return;  // a hard link or symlink to one already taken
    auto format = sniff(path, ext, static_cast<std::uint64_t>(st.st_size));
    if (format.starts_with("!")) {
      out.problems.push_back({path, "cannot read it: " + format.substr(1)});
      return;
    }
    if (format.empty()) {
      if (ext != ".bin")
        out.problems.push_back({path, "not a " + ext.substr(1) + " file by its first bytes (truncated or renamed?)"});
      return;
    }
    LibraryFile f;
    f.path = path;
    f.format = format;
    f.identity.device = st.st_dev;
    f.identity.inode = st.st_ino;
    f.identity.size = static_cast<std::uint64_t>(st.st_size);
    f.identity.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    f.identity.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    out.files.push_back(std::move(f));
  };
  auto consider = [&](const fs::path& path) {
    if (left_out(path)) return;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      int err = errno;
      struct stat link {};
      if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
        out.problems.push_back({path, err == ELOOP ? "a symlink loop" : "a symlink to nothing (broken)"});
      else
        out.problems.push_back({path, std::strerror(err)});
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      if (!seen_dirs.insert({st.st_dev, st.st_ino}).second) {
        struct stat link {};
        if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
          out.problems.push_back({path, "a symlink to a folder already walked (a loop, or a second way in); skipped"});
        return;
      }
      pending.push_back(path);
    } else if (S_ISREG(st.st_mode)) {
      consider_file(path, st);
    }  // FIFOs, devices and sockets are never opened
  };
  for (const auto& root : roots) consider(fs::absolute(root).lexically_normal());
  while (!pending.empty()) {
    auto dir = std::move(pending.back());
    pending.pop_back();
    ++out.folders;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      out.problems.push_back({dir, "cannot list this folder: " + ec.message()});
      continue;
    }
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) consider(it->path());
    if (ec) out.problems.push_back({dir, "listing stopped: " + ec.message()});
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const LibraryFile& a, const LibraryFile& b) { return a.path < b.path; });
  std::sort(out.problems.begin(), out.problems.end(),
            [](const LibraryProblem& a, const LibraryProblem& b) { return a.path < b.path; });
  return out;
}

HashCache::HashCache(fs::path file) : file_(std::move(file)) {}

void HashCache::load(std::string* warning) {
  entries_.clear();
  std::ifstream in(file_);
  if (!in) return;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("files") || !j["files"].is_object()) {
    if (warning) *warning = file_.string() + " is damaged; every file is hashed again";
    return;
  }
  try {
    for (const auto& [key, value] : j["files"].items()) {
      if (!value.is_object()) continue;
      auto sha = p::from_hex_fixed<32>(value.value("sha256", std::string()));
      if (!sha) continue;
      entries_[key] = Entry{*sha, value.value("seen", std::int64_t{0})};
    }
  } catch (const nlohmann::json::exception&) {  // a field of the wrong type
    entries_.clear();
    if (warning) *warning = file_.string() + " is damaged; every file is hashed again";
  }
}

p::Status HashCache::save() const {
  nlohmann::json files = nlohmann::json::object();
  auto too_old = unix_now() - 90 * 86400;  // files not seen for 90 days are forgotten
  for (const auto& [key, e] : entries_)
    if (e.seen >= too_old) files[key] = {{"sha256", p::to_hex(e.sha256)}, {"seen", e.seen}};
  return write_file_atomically(file_, nlohmann::json{{"files", files}}.dump() + "\n");
}

std::optional<p::Sha256Digest> HashCache::find(const FileIdentity& id) {
  auto it = entries_.find(key_of(id));
  if (it == entries_.end()) return std::nullopt;
  it->second.seen = unix_now();
  return it->second.sha256;
}

void HashCache::put(const FileIdentity& id, const p::Sha256Digest& sha256) {
  entries_[key_of(id)] = Entry{sha256, unix_now()};
}

p::Result<p::FileDigests> hash_library_file(const LibraryFile& file, const p::ProgressFn& progress) {
  auto digests = p::hash_file(file.path, {}, progress);
  if (!digests) return digests.error();
  auto after = file_identity(file.path);
  if (!after)
    return p::make_error(p::ErrorCode::not_found, file.path.string() + ": vanished while it was hashed; not shared");
  if (!(*after == file.identity))
    return p::make_error(p::ErrorCode::conflict,
                         file.path.string() + ": changed while it was hashed (still being written?); not shared, " +
                             "run share again once it is complete");
  return digests;
}

}  // namespace seedbank::node
