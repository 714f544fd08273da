#include "one_file.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "community.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

void order_claims(std::vector<p::Record>& releases, const indexer::Index& index,
                  const std::filesystem::path& data_dir) {
  if (releases.size() < 2) return;
  std::set<std::string> follows;
  if (auto lists = read_local_lists(local_lists_path(data_dir)))
    follows.insert(lists->follows.begin(), lists->follows.end());
  using Key = std::tuple<bool, bool, std::uint64_t, p::RecordId>;
  auto key_of = [&](const p::Record& rec) -> Key {
    bool mirror = p::is_mirror(rec.body().getPayload().getRelease());
    bool followed = follows.count(rec.author().to_text()) > 0;
    return {mirror, !followed, index.arrived_ms(rec.id()).value_or(rec.created_at()), rec.id()};
  };
  std::vector<std::pair<Key, std::size_t>> keys;
  for (std::size_t i = 0; i < releases.size(); ++i) keys.emplace_back(key_of(releases[i]), i);
  std::sort(keys.begin(), keys.end());
  std::vector<p::Record> ordered;
  ordered.reserve(releases.size());
  for (const auto& [k, i] : keys) ordered.push_back(std::move(releases[i]));
  releases = std::move(ordered);
}

std::vector<p::Record> claims_on(const p::Sha256Digest& sha256, const indexer::Index& index,
                                 const std::filesystem::path& data_dir,
                                 const std::function<bool(const p::Record&)>& refuses) {
  std::vector<p::Record> out;
  auto matches = index.find_by_hash("sha256:" + p::to_hex(sha256), kMaxClaims);
  if (!matches) return out;
  std::set<p::RecordId> seen;
  for (const auto& m : *matches) {
    if (m.file == indexer::kReleaseLevel || (m.file & indexer::kImageFlag) || !seen.insert(m.release).second) continue;
    auto rec = index.get(m.release);
    if (!rec || rec->kind() != p::RecordKind::release || (refuses && refuses(*rec))) continue;
    out.push_back(std::move(rec).value());
  }
  order_claims(out, index, data_dir);
  return out;
}

std::size_t agreeing_mirrors(const p::Record& release, const indexer::Index& index) {
  auto r = release.body().getPayload().getRelease();
  auto origin = p::read_origin(r);
  if (!origin || r.getFiles().size() == 0) return 0;
  auto matches = index.find_by_hash("sha256:" + p::to_hex(p::util::digest_of(r.getFiles()[0].getHashes().getSha256())),
                                    kMaxAgreeing);
  if (!matches) return 0;
  std::set<p::PublicKey> keys;
  std::set<p::RecordId> seen;
  for (const auto& m : *matches) {
    if (m.release == release.id() || !seen.insert(m.release).second) continue;
    auto rec = index.get(m.release);
    if (!rec || rec->kind() != p::RecordKind::release || rec->author() == release.author()) continue;
    auto other = p::read_origin(rec->body().getPayload().getRelease());
    if (other && other->site == origin->site && other->version_id == origin->version_id &&
        other->model_id == origin->model_id)
      keys.insert(rec->author());
  }
  return keys.size();
}

}  // namespace seedbank::node
