// What other threads (the HTTP API) may know of gossip: how many nodes seed
// each info-hash, which images are being fetched, and which record names an
// image not stored yet. Gossip's parts publish their changes here as they
// make them, on the gossip thread; readers take one lock, here and nowhere
// else. Gossip itself holds no locks.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "seedbank/protocol/record.h"

namespace seedbank::node::gossip {

class View {
 public:
  // Published by the gossip thread.
  // Seeding lists changed: each of `removed` loses a seeder, each of `added` gains one.
  void recount(const std::vector<protocol::Sha256Digest>& removed, const std::vector<protocol::Sha256Digest>& added);
  void fetching(const protocol::Sha256Digest& sha, bool fetching);
  // At most `limit` images are remembered; `forget` once one is stored.
  void name_image(const protocol::Sha256Digest& sha, const protocol::RecordId& record, std::size_t limit);
  void forget_image(const protocol::Sha256Digest& sha);

  // Read on any thread.
  std::uint32_t seeder_count(const protocol::Sha256Digest& info_hash) const;
  // The `n` info-hashes with the most seeders, most first (ties by hash).
  std::vector<std::pair<protocol::Sha256Digest, std::uint32_t>> most_seeded(std::size_t n) const;
  bool fetching(const protocol::Sha256Digest& sha) const;
  std::optional<protocol::RecordId> image_owner(const protocol::Sha256Digest& sha) const;

 private:
  struct DigestHash {
    std::size_t operator()(const protocol::Sha256Digest& d) const;
  };
  mutable std::mutex mutex_;
  std::unordered_map<protocol::Sha256Digest, std::uint32_t, DigestHash> seeders_;
  std::set<protocol::Sha256Digest> fetching_;
  std::map<protocol::Sha256Digest, protocol::RecordId> image_owners_;
};

}  // namespace seedbank::node::gossip
