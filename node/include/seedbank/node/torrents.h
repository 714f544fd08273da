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

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node {

struct TorrentOptions {
  std::filesystem::path data_dir;
  std::string listen = "0.0.0.0:6881";       // --bt-listen; port 0 picks a free one
  bool dht = true;                           // off for tests and private networks
  std::vector<std::string> dht_bootstrap;    // host:port routers (add_dht_node)
  bool local_discovery = false;              // LSD
  bool port_mapping = false;                 // UPnP and NAT-PMP
  std::uint64_t download_limit = 0;          // bytes/s, 0 = none (applies on loopback too)
  std::uint64_t store_quota = 0;             // bytes the store may hold, 0 = no limit
  std::uint64_t upload_limit = 0;
};

struct TorrentStatus {
  std::string release_id;     // hex
  std::string name;           // torrent name
  std::string info_hash;      // v2, hex
  std::string state;          // "checking", "downloading", "seeding", "verifying", "error", ...
  std::uint64_t wanted = 0;   // bytes wanted
  std::uint64_t done = 0;     // bytes of wanted verified by pieces
  std::uint64_t download_rate = 0, upload_rate = 0;  // bytes/s
  std::uint64_t downloaded = 0;  // payload bytes received since this process added it
  int peers = 0;
  int files_wanted = 0, files_stored = 0;  // files in the store after SHA-256 checks
  bool complete = false;      // every wanted file is in the store
  std::string error;
};

class TorrentService {
 public:
  static protocol::Result<std::unique_ptr<TorrentService>> start(const TorrentOptions& options,
                                                                  indexer::Index& index, ContentStore& store);
  ~TorrentService();  // saves resume data and stops the session
  TorrentService(const TorrentService&) = delete;
  TorrentService& operator=(const TorrentService&) = delete;

  // Adds every release whose files are all in the store (and resumes
  // unfinished fetches). Returns how many torrents were added.
  std::size_t seed_all();
  // Starts (or continues) fetching a release: all files, or only its sample
  // images. `peers` are host:port hints to connect to. Error limit when the
  // store quota cannot hold it. Continuing a fetch that stopped on an error
  // (a full disk) clears the error and resumes.
  protocol::Status fetch(const protocol::Record& release, bool images_only, const std::vector<std::string>& peers);
  // Connects a known torrent to more peers.
  void add_peers(const std::string& release_id_hex, const std::vector<std::string>& peers);

  // Handles libtorrent's alerts (completions, SHA-256 checks, errors). Call
  // often (the node does every 100 ms); cheap when nothing happened.
  void poll();
  std::vector<TorrentStatus> status();
  std::optional<TorrentStatus> status_of(const std::string& release_id_hex);

  // The address BitTorrent peers can reach this node at (after start).
  std::string listen_address() const;
  // Saves resume data for every torrent (also done by the destructor).
  void save_state();

 private:
  struct Impl;
  explicit TorrentService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The .torrent bytes (info dictionary plus piece layers) a release carries.
protocol::Bytes torrent_file_of(schema::Release::Reader release);

}  // namespace seedbank::node
