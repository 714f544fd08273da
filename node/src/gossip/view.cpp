#include "gossip/view.h"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace seedbank::node::gossip {

namespace p = seedbank::protocol;

std::size_t View::DigestHash::operator()(const p::Sha256Digest& d) const {
  std::size_t h;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

void View::recount(const std::vector<p::Sha256Digest>& removed, const std::vector<p::Sha256Digest>& added) {
  std::lock_guard lock(mutex_);
  for (const auto& h : removed)
    if (auto it = seeders_.find(h); it != seeders_.end() && --it->second == 0) seeders_.erase(it);
  for (const auto& h : added) ++seeders_[h];
}

void View::fetching(const p::Sha256Digest& sha, bool fetching) {
  std::lock_guard lock(mutex_);
  if (fetching)
    fetching_.insert(sha);
  else
    fetching_.erase(sha);
}

void View::name_image(const p::Sha256Digest& sha, const p::RecordId& record, std::size_t limit) {
  std::lock_guard lock(mutex_);
  if (image_owners_.size() >= limit && !image_owners_.count(sha)) return;
  image_owners_[sha] = record;
}

void View::forget_image(const p::Sha256Digest& sha) {
  std::lock_guard lock(mutex_);
  image_owners_.erase(sha);
}

std::uint32_t View::seeder_count(const p::Sha256Digest& info_hash) const {
  std::lock_guard lock(mutex_);
  auto it = seeders_.find(info_hash);
  return it == seeders_.end() ? 0 : it->second;
}

std::vector<std::pair<p::Sha256Digest, std::uint32_t>> View::most_seeded(std::size_t n) const {
  std::vector<std::pair<p::Sha256Digest, std::uint32_t>> out;
  {
    std::lock_guard lock(mutex_);
    out.assign(seeders_.begin(), seeders_.end());
  }
  auto by_count = [](const auto& a, const auto& b) {
    return std::tie(b.second, a.first) < std::tie(a.second, b.first);
  };
  if (out.size() > n) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), by_count);
    out.resize(n);
  } else {
    std::sort(out.begin(), out.end(), by_count);
  }
  return out;
}

bool View::fetching(const p::Sha256Digest& sha) const {
  std::lock_guard lock(mutex_);
  return fetching_.count(sha) > 0;
}

std::optional<p::RecordId> View::image_owner(const p::Sha256Digest& sha) const {
  std::lock_guard lock(mutex_);
  auto it = image_owners_.find(sha);
  if (it == image_owners_.end()) return std::nullopt;
  return it->second;
}

}  // namespace seedbank::node::gossip
