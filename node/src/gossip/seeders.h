// Who seeds what over BitTorrent: this node's seeding list, each session's
// (from `seeding` messages), how many nodes seed each info-hash, and
// seeders other nodes named in answers to findSeeders. Part of the Engine;
// gossip thread only; the counts are published to the View for others.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gossip/sessions.h"
#include "gossip/view.h"
#include "seedbank/protocol/content_hash.h"

namespace seedbank::node::gossip {

class Seeders {
 public:
  // Seeder counts are published to `view` as lists change.
  Seeders(Sessions& sessions, View& view, std::uint16_t bt_port)
      : sessions_(sessions), view_(view), bt_port_(bt_port) {}

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

 private:
  struct Lists {
    std::vector<protocol::Sha256Digest> seeding;       // sorted, the last complete list
    std::vector<protocol::Sha256Digest> seeding_next;  // full chunks of the list being received
  };
  bool seeds(SessionId id, const protocol::Sha256Digest& info_hash) const;

  Sessions& sessions_;
  View& view_;
  std::uint16_t bt_port_;
  std::vector<protocol::Sha256Digest> mine_;  // sorted
  std::map<SessionId, Lists> lists_;
  // BitTorrent endpoints other nodes told us seed an info-hash (answers to
  // findSeeders), and when each info-hash was last asked about.
  std::map<protocol::Sha256Digest, std::set<std::string>> learned_;
  std::map<protocol::Sha256Digest, Clock::time_point> asked_;
};

}  // namespace seedbank::node::gossip
