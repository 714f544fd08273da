// Who seeds what over BitTorrent: this node's seeding list, each session's
// (from `seeding` messages), how many nodes seed each info-hash, and
// seeders other nodes named in answers to findSeeders. Part of the Engine;
// gossip thread only, except the counts (count, most_seeded), which any
// thread may read.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/sessions.h"
#include "seedbank/protocol/content_hash.h"

namespace seedbank::node::gossip {

class Seeders {
 public:
  Seeders(Sessions& sessions, std::uint16_t bt_port) : sessions_(sessions), bt_port_(bt_port) {}

  void closed(SessionId id);
  // Replaces this node's list; false when it did not change.
  bool set_mine(std::vector<protocol::Sha256Digest> info_hashes);
  // Sends this node's list to `id`: full chunks, then one shorter (maybe
  // empty) chunk that ends it.
  void send_mine(SessionId id);
  void on_seeding(SessionId id, capnp::List<capnp::Data>::Reader list);
  void on_find_seeders(SessionId id, capnp::Data::Reader info_hash);
  void on_seeders(SessionId id, schema::Seeders::Reader answer);
  // Asks every open session (at most every 5 s per hash).
  void ask(const protocol::Sha256Digest& info_hash, Clock::time_point now);
  std::vector<std::string> of(const protocol::Sha256Digest& info_hash) const;
  // Thread-safe.
  std::uint32_t count(const protocol::Sha256Digest& info_hash) const;
  std::vector<std::pair<protocol::Sha256Digest, std::uint32_t>> most_seeded(std::size_t n) const;

 private:
  struct DigestHash {
    std::size_t operator()(const protocol::Sha256Digest& d) const;
  };
  struct Lists {
    std::vector<protocol::Sha256Digest> seeding;       // sorted, the last complete list
    std::vector<protocol::Sha256Digest> seeding_next;  // full chunks of the list being received
  };
  bool seeds(SessionId id, const protocol::Sha256Digest& info_hash) const;
  void recount(const std::vector<protocol::Sha256Digest>& removed, const std::vector<protocol::Sha256Digest>& added);

  Sessions& sessions_;
  std::uint16_t bt_port_;
  std::vector<protocol::Sha256Digest> mine_;  // sorted
  std::map<SessionId, Lists> lists_;
  // How many nodes (this one and open sessions) seed each info-hash, kept
  // in step with the seeding lists; read from other threads (HTTP API).
  mutable std::mutex mutex_;
  std::unordered_map<protocol::Sha256Digest, std::uint32_t, DigestHash> counts_;
  // BitTorrent endpoints other nodes told us seed an info-hash (answers to
  // findSeeders), and when each info-hash was last asked about.
  std::map<protocol::Sha256Digest, std::set<std::string>> learned_;
  std::map<protocol::Sha256Digest, Clock::time_point> asked_;
};

}  // namespace seedbank::node::gossip
