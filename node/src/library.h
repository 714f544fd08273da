// A user's model library: the model files in their folders (AUTOMATIC1111,
// Forge, ComfyUI or any other layout), found by name and first bytes, and
// hashed once: `resolve --from-dir` and `share` walk with this. Private to
// node/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/node/store.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

struct LibraryFile {
  std::filesystem::path path;  // absolute; through symlinks as found
  FileIdentity identity;
  std::string format;  // "safetensors", "gguf", "pickle" (.ckpt/.pt/.pth/.bin), "zip-pickle"
};

// Something the walk could not take, and why ("permission denied", "a
// symlink loop", "not a safetensors file by its first bytes", ...).
struct LibraryProblem {
  std::filesystem::path path;
  std::string what;
};

struct LibraryWalk {
  std::vector<LibraryFile> files;  // sorted by path; each file (device, inode) once
  std::vector<LibraryProblem> problems;
  std::size_t folders = 0;
};

// Walks `roots` (folders or single files): follows symlinks to folders
// once each (a loop is reported, never followed round), reports what it
// cannot read, and keeps files whose extension names a model format
// (.safetensors .sft .ckpt .pt .pth .bin .gguf) and whose first bytes are
// that format. A .bin that is not a pickle or zip is skipped quietly
// (many tools keep other .bin files).
// Whether a file name has a model format's extension (what the walk looks at).
bool is_model_file_name(const std::filesystem::path& path);

// `excluded`: paths (files or folders) left out, as `share --stop` left them.
LibraryWalk walk_library(const std::vector<std::filesystem::path>& roots,
                         const std::vector<std::filesystem::path>& excluded = {});

// Hashes already computed, by (device, inode, size, mtime, ctime): kept in
// <data dir>/hash-cache.json, so a second walk over an unchanged library
// hashes nothing. Not thread-safe.
class HashCache {
 public:
  explicit HashCache(std::filesystem::path file);
  // Loads the file (missing: empty; damaged: empty, and `warning` says so).
  void load(std::string* warning = nullptr);
  protocol::Status save() const;
  std::optional<protocol::Sha256Digest> find(const FileIdentity& id);  // marks it seen
  void put(const FileIdentity& id, const protocol::Sha256Digest& sha256);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    protocol::Sha256Digest sha256{};
    std::int64_t seen = 0;  // unix seconds
  };
  std::filesystem::path file_;
  std::map<std::string, Entry> entries_;  // "device:inode:size:mtime_ns:ctime_ns"
};

// Hashes one library file (SHA-256 and the rest, in one read) and checks
// that it did not change while it was read: error conflict when it did
// (size, mtime or inode differ afterwards), not_found when it vanished.
protocol::Result<protocol::FileDigests> hash_library_file(const LibraryFile& file,
                                                          const protocol::ProgressFn& progress = {});

}  // namespace seedbank::node
