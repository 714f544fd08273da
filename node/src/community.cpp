#include "community.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "files.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/node/gossip.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/image_meta.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

p::Result<p::ReleaseImage> read_image(const std::filesystem::path& path) {
  auto info = p::read_image_file(path.string());
  if (!info) return info.error();
  auto digests = p::hash_file(path);
  if (!digests) return digests.error();
  if (digests->size > kMaxBlobBytes)
    return p::make_error(p::ErrorCode::limit, path.string() + ": " + std::to_string(digests->size) +
                                                  " bytes; images shared this way travel between nodes up to " +
                                                  std::to_string(kMaxBlobBytes >> 20) +
                                                  " MiB; scale it down or save it as JPEG or WebP");
  p::ReleaseImage img;
  img.name = path.filename().string();
  img.sha256 = digests->sha256;
  img.size = digests->size;
  img.width = info->width;
  img.height = info->height;
  img.mime_type = info->mime_type;
  img.generation = p::generation_params_from_image(*info);
  return img;
}

p::Result<p::ReleaseImage> store_image(ContentStore& store, const std::filesystem::path& path) {
  auto img = read_image(path);
  if (!img) return img;
  if (auto stored = store.add(path, img->sha256, ContentStore::AddMode::copy); !stored) return stored.error();
  return img;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

p::Result<indexer::IngestOutcome> sign_and_ingest(indexer::Index& index, const p::SecretKey& key,
                                                  const p::CommunityDraft& draft, std::uint64_t created_at_ms) {
  auto bytes = p::sign_draft(key, index.network(), created_at_ms ? created_at_ms : now_ms(), draft);
  if (!bytes) return bytes.error();
  auto out = index.ingest(*bytes, indexer::Durability::local);
  if (out.status == indexer::IngestStatus::rejected) return out.error;
  return out;
}

p::Result<LocalLists> read_local_lists(const std::filesystem::path& path) {
  LocalLists lists;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lists;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return p::make_error(p::ErrorCode::malformed, path.string() + ": not a JSON object; fix or remove it");
  auto read = [&](const char* name, std::vector<std::string>& out) {
    if (j.contains(name) && j[name].is_array())
      for (const auto& v : j[name])
        if (v.is_string()) set_listed(out, v.get<std::string>(), true);
  };
  read("favorites", lists.favorites);
  read("follows", lists.follows);
  return lists;
}

p::Status write_local_lists(const std::filesystem::path& path, const LocalLists& lists) {
  if (auto st = prepare_data_dir(path.parent_path()); !st) return st;
  nlohmann::ordered_json j = {{"favorites", lists.favorites}, {"follows", lists.follows}};
  return write_file_atomically(path, j.dump(2) + "\n");
}

bool set_listed(std::vector<std::string>& list, const std::string& value, bool listed) {
  auto it = std::find(list.begin(), list.end(), value);
  if (listed == (it != list.end())) return false;
  if (listed)
    list.push_back(value);
  else
    list.erase(it);
  return true;
}

}  // namespace seedbank::node
