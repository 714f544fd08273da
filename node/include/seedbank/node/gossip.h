// The node's gossip side: encrypted, authenticated sessions with other
// nodes over TCP (protocol/gossip_session.h), which keep every node's index
// the same. New records are announced by id to every peer and fetched by
// those that lack them; every few seconds a random peer is reconciled with
// (protocol/reconcile.h) to repair what announcements missed. Peers also
// exchange addresses, the info-hashes they seed, and answer hash queries.
//
// Every record is verified before it is stored or announced. A peer that
// sends something invalid (a bad signature, a malformed or oversize frame, a
// flood of messages) is disconnected and banned for a while.
//
// Runs on the node's io_context (one thread); not thread-safe. Records from
// peers are verified and stored on a thread of its own, and what follows
// (announcements, bans) back on the io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/result.h"
#include "seedbank/protocol/util.h"

namespace boost::asio {
class io_context;
}

namespace seedbank::node {

// Defaults of config.json "spam": a new key's first record costs about
// 2^10 SHA-256 (0.3 ms; `seedbank` stamps 16 bits), and an author's records
// from the last hour are capped.
inline constexpr std::uint32_t kDefaultNewKeyWorkBits = 10;
inline constexpr std::uint32_t kDefaultPerAuthorPerHour = 10000;
// Every reaction and comment from a peer must carry this much work (about
// 4,000 hashes, a few milliseconds; seedbank stamps 16 bits), and an author
// may have this many of them per hour.
inline constexpr std::uint32_t kDefaultSocialWorkBits = 12;
inline constexpr std::uint32_t kDefaultSocialPerHour = 600;

// Small files that records name (image posts' images, avatars) travel over
// gossip, a chunk at a time, up to this size.
inline constexpr std::uint64_t kMaxBlobBytes = protocol::util::kMaxImageBytes;
inline constexpr std::uint64_t kBlobChunk = 1u << 20;

struct GossipOptions {
  std::filesystem::path data_dir;  // peers.json lives here
  std::string network = "main";
  std::string listen = "0.0.0.0:7400";             // --listen; port 0 picks one; "off" accepts no sessions
  std::vector<std::string> bootstrap;              // HOST:PORT to dial at start
  protocol::Log log;                               // peers joining and leaving, records received, bans
  std::size_t outbound = 4;                        // sessions this node keeps dialled
  std::size_t max_sessions = 256;                  // inbound + outbound
  std::chrono::milliseconds sync_interval{10000};  // reconcile with a random peer this often
  std::chrono::seconds ban_time{600};
  // Runs on the gossip thread for each record stored from a peer.
  std::function<void(const protocol::Record&)> on_stored;
  std::uint16_t bt_port = 0;  // advertised in hello, for "seeding"
  // Spam resistance on records from peers (config.json "spam"). Refused
  // records are dropped and not asked for again for an hour; a session
  // bringing over 1,000 is closed, never banned (the peer cannot know this
  // node's limits).
  indexer::Admission admission{kDefaultNewKeyWorkBits, kDefaultPerAuthorPerHour, kDefaultSocialWorkBits,
                               kDefaultSocialPerHour};
  // Where images fetched from peers go and are served from; null: this
  // node neither asks for nor serves them.
  ContentStore* store = nullptr;
  std::uint64_t store_quota = 0;  // bytes; 0: no limit
  // Why this node does not keep the image a record names (NodeConfig::
  // refuses_image), or nullopt; unset: every image is kept.
  std::function<std::optional<std::string>(const protocol::Record& owner, const protocol::Sha256Digest& sha256)>
      image_policy;
};

struct PeerInfo {
  std::string address;  // host:port of the connection
  std::string node_id;  // sbpk1... once authenticated
  bool outbound = false;
  std::string state;  // "handshake", "open"
  // Where this node learnt the address it dialled ("bootstrap",
  // "peers.json", "dht", "lan", "peer", "manual"), or "inbound".
  std::string source;
  std::string agent;
  std::uint32_t version = 0;   // from the peer's hello
  std::uint64_t features = 0;  // Hello.features bits (schemas/gossip.capnp)
  std::uint16_t gossip_port = 0, bt_port = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0;
  double connected_seconds = 0;
};

struct GossipStats {
  std::uint64_t records_received = 0;  // new records stored from peers
  std::uint64_t sessions_opened = 0, sessions_refused = 0, bans = 0;
  std::uint64_t reconciliations = 0;
};

class GossipService {
 public:
  // Starts listening (unless "off") and dialling the bootstrap list and the
  // peers remembered in peers.json.
  static protocol::Result<std::unique_ptr<GossipService>> start(boost::asio::io_context& io,
                                                                const GossipOptions& options, indexer::Index& index,
                                                                const protocol::SecretKey& node_key);
  ~GossipService();  // saves peers.json, closes every session
  GossipService(const GossipService&) = delete;
  GossipService& operator=(const GossipService&) = delete;

  std::string listen_address() const;  // host:port, empty when not listening
  std::string node_id() const;         // sbpk1...
  std::vector<PeerInfo> peers() const;
  GossipStats stats() const;

  // Records stored on this data dir by this or another process (a
  // publish, a rating): announced to peers unless they were already.
  // Returns those that were new to gossip.
  std::vector<protocol::RecordId> add_local(const std::vector<protocol::RecordId>& ids);
  // The same for records stored without being handed over (another
  // process's import), found by walking the index when it holds records
  // gossip has not seen. Cheap when nothing changed.
  std::vector<protocol::RecordId> scan_local();
  // Dials HOST:PORT now (and remembers it).
  void add_peer(const std::string& host_port);
  // Addresses discovery found ("dht" or "lan"): remembered, and dialled as
  // the address book allows (gossip/address_book.h: a cap on dials a
  // minute and on addresses of one range). Returns how many were new.
  std::size_t add_discovered(const std::vector<std::string>& host_ports, const std::string& source);
  // The sessions this node dials and keeps (--outbound).
  std::size_t wanted_sessions() const;
  // How many addresses the address book holds by where they came from.
  std::map<std::string, std::size_t> address_sources() const;

  // The v2 info-hashes this node seeds completely; announced to peers.
  void set_seeding(std::vector<protocol::Sha256Digest> info_hashes);
  // BitTorrent endpoints (host:port) of peers that say they seed it, and
  // of nodes further away that peers named in answers to ask_seeders.
  std::vector<std::string> seeders_of(const protocol::Sha256Digest& info_hash) const;
  // How many nodes seed `info_hash` completely: this one and the peers of
  // open sessions. Thread-safe (the HTTP API's downloadCount).
  std::uint32_t seeder_count(const protocol::Sha256Digest& info_hash) const;
  // The `n` info-hashes with the most seeders, most first. Thread-safe.
  std::vector<std::pair<protocol::Sha256Digest, std::uint32_t>> most_seeded(std::size_t n) const;
  // Asks every peer who seeds `info_hash` (at most every 5 s per hash);
  // answers arrive in seeders_of.
  void ask_seeders(const protocol::Sha256Digest& info_hash);
  // How many sessions are open.
  std::size_t open_sessions() const;

  // Asks every open session about `hash` (the index did not know it); the
  // answers are verified and stored, then `done` runs with how many new
  // records arrived, once all peers answered or after `timeout`.
  void query(const std::string& hash, std::chrono::milliseconds timeout, std::function<void(std::size_t)> done);

  // Fetches the image `sha256` that `record` names (at most kMaxBlobBytes)
  // from peers into the store, trying each open session in turn and asking
  // again for up to two minutes while peers are still fetching it
  // themselves. Images of posts and profiles arriving over gossip are
  // fetched this way by themselves. `done` runs with the outcome.
  void fetch_blob(const protocol::Sha256Digest& sha256, const protocol::RecordId& record,
                  std::function<void(protocol::Status)> done = {});
  // Whether a fetch of `sha256` is under way or waiting. Thread-safe.
  bool fetching_blob(const protocol::Sha256Digest& sha256) const;
  // A record naming image `sha256` (an image post or profile this node got
  // and whose image it has not stored yet), to fetch it with. Thread-safe.
  std::optional<protocol::RecordId> image_owner(const protocol::Sha256Digest& sha256) const;

 private:
  struct Impl;
  explicit GossipService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Reads a bootstrap list (bootstrap/README.md): one HOST:PORT per line,
// optionally followed by the node's sbpk1 key; '#' starts a comment.
protocol::Result<std::vector<std::string>> read_bootstrap_file(const std::filesystem::path& path);

// The peers to start from: each entry is HOST:PORT or a bootstrap list
// file; with no entries, <data dir>/bootstrap.txt when it exists.
protocol::Result<std::vector<std::string>> bootstrap_peers(const std::filesystem::path& data_dir,
                                                           const std::vector<std::string>& entries);

// The node's gossip identity (<data dir>/node.key), made on first use.
protocol::Result<protocol::SecretKey> load_or_create_node_key(const std::filesystem::path& data_dir);

// The BitTorrent endpoints known to seed `release` now, after asking every
// peer who seeds it (answers arrive later, in seeders_of). Empty without
// gossip. Call on the gossip service's thread.
std::vector<std::string> seeders_for(GossipService* gossip, const protocol::Record& release);

}  // namespace seedbank::node
