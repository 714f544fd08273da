// The node's BitTorrent side: one libtorrent session that seeds every
// complete release in the content store and fetches releases on request.
//
// Files are never copied for torrents: each torrent file is mapped onto its
// content-store path. A fetched file is written under <data dir>/partial/,
// its SHA-256 is checked against the signed release, and only then is it
// renamed into the store, so the store never holds an unverified byte.
//
// Not thread-safe: call from one thread (the node's io_context). libtorrent
// runs its own threads behind it. libtorrent headers stay in the .cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node {

struct TorrentOptions {
  std::filesystem::path data_dir;
  std::string listen = "0.0.0.0:6881";     // --bt-listen; port 0 picks a free one
  bool dht = true;                         // off for tests and private networks
  std::vector<std::string> dht_bootstrap;  // host:port routers (add_dht_node)
  bool local_discovery = false;            // LSD
  bool port_mapping = false;               // UPnP and NAT-PMP
  std::uint64_t download_limit = 0;        // bytes/s, 0 = none (applies on loopback too)
  std::uint64_t store_quota = 0;           // bytes the store may hold, 0 = no limit
  std::uint64_t upload_limit = 0;
  // Also seed each hybrid release as a plain v1 torrent (its "v1-compat"
  // form, see v1_compat_info), and fall back to that swarm when a fetch finds
  // no peers for the hybrid one. Clients that only know v1 can then fetch.
  bool v1_compat = true;
  // Trackers every torrent is also announced to (besides the release's own).
  std::vector<std::string> trackers;
  // --bt-log: where to append libtorrent's account of connections, peers'
  // messages and errors, for finding out why a download does not move.
  // Empty: no such log.
  std::filesystem::path log_file;
  // Where fetches started and finished, and files that failed their
  // SHA-256 checks, are told.
  protocol::Log log;
};

// Why a torrent stopped: a file that failed its SHA-256 check against the
// signed release, a full disk, or another read/write error.
enum class ErrorKind { none, verification, disk_full, io };

// One peer of a torrent, for `seedbank status --peers`: connected now, or
// one that sent pieces earlier in this fetch.
struct PeerStatus {
  std::string endpoint;  // HOST:PORT
  std::string client;    // what the peer calls itself (peer-controlled text)
  std::string source;    // how it was found: "incoming", "tracker", "dht", "pex", "lsd", "seedbank" (gossip, --peer)
  bool connected = false;
  bool seed = false;                                 // has every piece
  double progress = 0;                               // share of the pieces it has, 0..1
  std::uint64_t download_rate = 0, upload_rate = 0;  // bytes/s, this connection
  std::uint64_t received = 0;                        // payload bytes it sent us in this fetch (sampled each second)
  std::uint64_t sent = 0;                            // payload bytes sent to it, this connection
};

struct TorrentStatus {
  std::string release_id;                            // hex
  std::string name;                                  // torrent name
  std::string info_hash;                             // v2, hex
  std::string v1_compat_info_hash;                   // hex, when its v1-compat torrent is in the session
  std::string state;                                 // "checking", "downloading", "seeding", "verifying", "error", ...
  std::uint64_t wanted = 0;                          // bytes wanted
  std::uint64_t done = 0;                            // bytes of wanted verified by pieces
  std::uint64_t download_rate = 0, upload_rate = 0;  // bytes/s
  std::uint64_t downloaded = 0;                      // payload bytes received since this process added it
  std::uint64_t uploaded = 0;                        // payload bytes sent since this process added it
  int peers = 0;
  int peers_sent = 0;                      // peer addresses (HOST:PORT) that sent payload, this process
  int files_wanted = 0, files_stored = 0;  // files in the store after SHA-256 checks
  int files_in_place = 0;                  // of those, files shared in place (seedbank share)
  bool complete = false;                   // every wanted file is in the store
  bool all_stored = false;                 // every file of the release is (it can seed it all)
  std::string error;
  ErrorKind error_kind = ErrorKind::none;
  std::vector<PeerStatus> peer_list;  // only when asked for (status(true))
};

class TorrentService {
 public:
  static protocol::Result<std::unique_ptr<TorrentService>> start(const TorrentOptions& options, indexer::Index& index,
                                                                 ContentStore& store);
  ~TorrentService();  // saves resume data and stops the session
  TorrentService(const TorrentService&) = delete;
  TorrentService& operator=(const TorrentService&) = delete;

  // Adds every release whose files are all in the store (and resumes
  // unfinished fetches). Returns how many torrents were added.
  std::size_t seed_all();
  // The same for one release (a publish that knows its id): true when it
  // was added.
  bool seed(const protocol::Record& release);
  // Files shared in place (ContentStore::share): seeds every release that
  // names one, with the shared files read from where they are (never
  // written: libtorrent checks them as it adds them, and a piece that fails
  // is not repaired). Returns how many torrents were added.
  std::size_t seed_shared();
  // Takes out every torrent that reads a shared file which changed, moved
  // or is gone (ContentStore::locate no longer finds it there), and adds
  // it again with what still holds. Cheap: one stat per shared file in the
  // session. Returns how many torrents were taken out.
  std::size_t refresh_in_place();
  // Starts (or continues) fetching a release: all files, or only its sample
  // images. `peers` are host:port hints to connect to. Error limit when the
  // store quota cannot hold it. Continuing a fetch that stopped on an error
  // (a full disk) clears the error and resumes.
  protocol::Status fetch(const protocol::Record& release, bool images_only, const std::vector<std::string>& peers);
  // The same for some files only: `files` names files and sample images of
  // the release (what `resolve` needs: one model file and a preview).
  protocol::Status fetch_files(const protocol::Record& release, const std::vector<std::string>& files,
                               const std::vector<std::string>& peers);
  // Releases this node will not seed or fetch (retracted, denied by a
  // deny-list it subscribes to, outside its content policy): the filter
  // returns why, or nullopt when the release is fine. seed_all skips them,
  // fetch refuses them (error conflict, with the reason).
  using ReleaseFilter = std::function<std::optional<std::string>(const protocol::Record&)>;
  void set_filter(ReleaseFilter filter);
  // Removes loaded torrents whose release the filter now refuses. Their
  // verified files stay in the store; their partial downloads are deleted.
  // Returns how many were removed.
  std::size_t prune();
  // Connects a known torrent to more peers.
  void add_peers(const std::string& release_id_hex, const std::vector<std::string>& peers);

  // Handles libtorrent's alerts (completions, SHA-256 checks, errors). Call
  // often (the node does every 100 ms); cheap when nothing happened.
  void poll();
  // Calls `notify` (from another thread) whenever poll() has work: post a
  // poll to the owning thread from it. Without it, poll on a timer.
  void set_notify(std::function<void()> notify);
  // Waits up to `timeout` for libtorrent to have news, then polls.
  bool wait(std::chrono::milliseconds timeout);
  std::vector<TorrentStatus> status(bool with_peers = false);
  std::optional<TorrentStatus> status_of(const std::string& release_id_hex);

  // How much of one file of a loaded release a reader at byte `from` can
  // have now, in order (to stream a download while it arrives): the bytes
  // from `from` up to `ready`. They passed their piece hash checks (SHA-256
  // merkle leaves of the signed info dictionary), so they are the release's
  // bytes even before the whole file's SHA-256 is checked. The fetch is
  // rarest-first; the pieces this reader needs next are asked for by
  // deadline (libtorrent's time-critical pieces), for this file only.
  // nullopt when the release is not loaded or has no such file.
  struct FileProgress {
    std::filesystem::path path;  // the store file once stored, the partial file before
    std::uint64_t size = 0;
    std::uint64_t ready = 0;  // the reader may read [from, ready); ready <= from: not yet
    std::uint64_t have = 0;   // bytes of the file here, in any order (grows while it arrives)
    bool stored = false;
    std::string error;  // the torrent or the file failed; no more will come
  };
  std::optional<FileProgress> file_progress(const std::string& release_id_hex, const std::string& file_name,
                                            std::uint64_t from = 0);
  // The address BitTorrent peers can reach this node at (after start).
  std::string listen_address() const;

  // The Mainline DHT, which discovery (discovery.h) also uses to find other
  // Seedbank nodes. Each call is a no-op when the DHT is off.
  bool dht_on() const { return dht_enabled_; }
  // Announces `port` (TCP) under `key`; the lookup it makes on the way
  // reports peers too.
  void dht_announce(const protocol::Sha1Digest& key, std::uint16_t port);
  void dht_lookup(const protocol::Sha1Digest& key);
  // Runs (in poll(), on the caller's thread) with the HOST:PORT endpoints
  // each DHT node answered a lookup or announce with.
  using DhtPeersHandler = std::function<void(const protocol::Sha1Digest& key, const std::vector<std::string>& peers)>;
  void set_dht_peers_handler(DhtPeersHandler handler);
  struct NetworkStats {
    std::int64_t dht_nodes = 0;  // in the routing table
    std::uint64_t dht_bytes_in = 0, dht_bytes_out = 0;
  };
  // As of the last poll() (refreshed about once a second).
  NetworkStats network_stats() const;
  // With port mapping on: asks the router (UPnP, NAT-PMP) to forward TCP
  // `local_port` too (the gossip port; the BitTorrent port is asked for by
  // itself). Results are logged and kept in port_mappings().
  void map_port(std::uint16_t local_port);
  struct PortMapping {
    std::uint16_t local_port = 0, external_port = 0;
    std::string method;  // "UPnP", "NAT-PMP"
    std::string error;   // why the router refused, or empty
  };
  std::vector<PortMapping> port_mappings() const;
  // Saves resume data for every torrent (also done by the destructor).
  void save_state();

 private:
  struct Impl;
  explicit TorrentService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  bool dht_enabled_ = false;
};

// The .torrent bytes (info dictionary plus piece layers) a release carries.
protocol::Bytes torrent_file_of(schema::Release::Reader release);

// The v1-compat form of a hybrid release's torrent: its info dictionary
// without "file tree" and "meta version", i.e. a plain BEP 3 torrent of the
// same files, pad files and pieces. Needed because some widely installed
// clients cannot load any BEP 52 torrent: Debian 12's aria2 1.36 drops the
// empty keys of a file tree and so computes a different info-hash, and
// Transmission 3.00 refuses the file. Derived from the signed info
// dictionary, so every node computes the same bytes and info-hash; the
// SHA-1 pieces are the hybrid torrent's, so it is as verifiable.
// Error invalid_argument for a v2-only release (it has no v1 pieces).
struct CompatTorrent {
  protocol::Bytes info;
  protocol::Sha1Digest info_hash{};
};
protocol::Result<CompatTorrent> v1_compat_info(schema::Release::Reader release);

// A whole .torrent file for other clients: the release's trackers as
// announce/announce-list, then the hybrid (or, with v1_compat, the v1-compat)
// info dictionary.
protocol::Result<protocol::Bytes> torrent_file_for_clients(schema::Release::Reader release, bool v1_compat);

// A magnet link with the release's trackers. The hybrid form carries both
// the v1 (btih) and v2 (btmh) info-hashes; the v1-compat form only its btih.
protocol::Result<std::string> magnet_of(schema::Release::Reader release, bool v1_compat);

}  // namespace seedbank::node
