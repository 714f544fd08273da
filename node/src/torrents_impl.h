// Private to torrents.cpp, torrent_alerts.cpp and torrent_files.cpp: what
// TorrentService keeps behind its Impl pointer. The one header that may
// include libtorrent's; nothing but those files includes it.
#pragma once

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <libtorrent/write_resume_data.hpp>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "files.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/util.h"
#include "torrent_self.h"

namespace seedbank::node {

namespace p = seedbank::protocol;
using p::ErrorCode;
using p::make_error;

inline p::Status write_atomically(const std::filesystem::path& path, const std::vector<char>& bytes) {
  return write_file_atomically(path, std::string_view(bytes.data(), bytes.size()));
}

inline std::string hex_of(const lt::sha256_hash& h) {
  return p::to_hex(p::ByteView(reinterpret_cast<const std::uint8_t*>(h.data()), 32));
}

// One release file, as it appears in the torrent.
struct Slot {
  lt::file_index_t index;
  std::string name;
  bool image = false;
  p::Sha256Digest sha256{};
  std::uint64_t size = 0;
  bool wanted = false;
  bool stored = false;         // in the content store, verified (or shared in place)
  bool in_place = false;       // stored as a user's file shared in place: never written to
  std::filesystem::path path;  // where it is read from, when stored
  bool verifying = false;      // the digest is being finished
  bool moving = false;         // verified; being renamed into the store
  bool failed = false;         // its SHA-256 did not match: never hashed or stored again
  bool complete_seen = false;  // libtorrent has every piece of the file
  std::uint64_t offset = 0;    // where the file starts in the torrent (piece-aligned)
  std::uint64_t queued = 0;    // bytes handed to the verifier so far, in order
  std::shared_ptr<p::Sha256Stream> stream = std::make_shared<p::Sha256Stream>();
  // Bytes the verifier has hashed (written by its thread): read-back stays
  // within kReadAhead pieces of this, however fast the disk is.
  std::shared_ptr<std::atomic<std::uint64_t>> hashed = std::make_shared<std::atomic<std::uint64_t>>(0);

  // Wanted, not in the store, and its bytes still being handed to the verifier.
  bool hashing() const { return wanted && !stored && !verifying && !moving && !failed; }
};

// A streaming reader's pieces are asked for by deadline this far apart, in
// the order it reads them.
constexpr int kDeadlineStepMs = 200;

struct Managed {
  p::RecordId release{};
  std::string release_hex, info_hash, name;
  lt::torrent_handle handle;
  std::vector<Slot> slots;
  std::vector<bool> have;           // pieces the hybrid torrent has checked (piece alerts, checks)
  std::vector<bool> requested;      // pieces asked for with read_piece
  std::set<std::size_t> deadlines;  // pieces a streaming reader asked for by deadline (file_progress)
  std::uint64_t total_size = 0;     // of the torrent, pad files included
  // Payload bytes received, by connection (the v1-compat fallback's too),
  // sampled from libtorrent's peer list while the fetch runs, for status:
  // at most kMaxSenders connections.
  // libtorrent gives every connection its own random peer id, so
  // (endpoint, peer id) names one connection.
  static constexpr std::size_t kMaxSenders = 4096;
  std::map<std::pair<lt::tcp::endpoint, lt::peer_id>, std::uint64_t> received;
  std::map<std::size_t, std::pair<boost::shared_array<char>, int>> arrived;  // read, not yet hashed
  std::uint64_t piece_size = 0;
  std::string error;
  ErrorKind error_kind = ErrorKind::none;
  std::vector<std::string> trackers;
  p::Bytes compat_info;  // the v1-compat info dictionary; empty when off or v2-only
  // While a fetch has no peers in the hybrid swarm: since when.
  std::optional<std::chrono::steady_clock::time_point> peerless_since;
  // Peers named with --peer: tried again while the torrent has none (a
  // connection asked for while the torrent was still checking is dropped).
  std::vector<lt::tcp::endpoint> hints;
  bool compat_fallback_done = false;  // the v1-compat swarm was tried once
  // Pieces left to the downloading v1-compat fallback, which has checked
  // them: not downloaded here until it finishes (see keep_apart).
  std::set<lt::piece_index_t> held;
  bool fetch_logged = false;  // "fetched" said for the files wanted now
};

// A release's v1-compat torrent (see v1_compat_info): seeding once every
// file is in the store, or downloading as a fallback into the same partial
// files as the hybrid torrent, which then rechecks and verifies as usual.
struct Compat {
  lt::torrent_handle handle;
  bool seeding = false;
};

// Hashes downloading files on one background thread, each file's bytes in
// order, from pieces libtorrent verified and read back (read_piece goes
// through its disk layer, so it sees blocks not yet flushed to the file).
// Pieces arrive rarest-first, not in order: only the unbroken run of
// pieces after what was handed to the verifier is read back, and at most
// kReadAhead pieces beyond what it has hashed, so each byte is hashed once
// and memory stays at kReadAhead pieces a file however fast the disk.
class Verifier {
 public:
  struct Task {
    std::string info_hash;
    std::size_t slot;
    boost::shared_array<char> data;  // a piece
    std::size_t start = 0, length = 0;
    bool finish = false;
    std::shared_ptr<p::Sha256Stream> stream;
    std::shared_ptr<std::atomic<std::uint64_t>> hashed;  // advanced by `length` once hashed
  };
  struct Done {
    std::string info_hash;
    std::size_t slot;
    p::Result<p::Sha256Digest> digest;
  };

  Verifier();
  ~Verifier();
  void push(Task task);
  void set_notify(std::function<void()> fn);
  std::vector<Done> take_done();
  // Whether bytes were hashed since the last call (then more may be read back).
  bool take_progress() { return progressed_.exchange(false); }

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::vector<Done> done_;
  std::function<void()> notify_;
  bool stop_ = false;
  std::atomic<bool> progressed_{false};
  std::thread thread_;
};

struct TorrentService::Impl {
  TorrentOptions options;
  p::Log console = options.log.with_component("bittorrent");
  indexer::Index& index;
  ContentStore& store;
  std::unique_ptr<lt::session> session;
  std::map<std::string, Managed> torrents;  // by v2 info-hash hex
  std::map<std::string, Compat> compat;     // by the hybrid's v2 info-hash hex
  TorrentService::ReleaseFilter filter;
  std::chrono::steady_clock::time_point last_peer_check{};
  std::chrono::steady_clock::time_point last_resume_save = std::chrono::steady_clock::now();
  // Held while verified files are being renamed into the store, so a
  // publish rolling back at that moment cannot remove one of them.
  std::optional<ContentStore::Lock> rename_lock;
  int renames_pending = 0;
  std::vector<std::pair<std::string, std::size_t>> waiting_renames;  // verified: (info-hash, slot)
  Verifier verifier;
  std::string listen_address;
  std::shared_ptr<OwnEndpoints> own = std::make_shared<OwnEndpoints>();  // never dialled (torrent_self.h)
  // Discovery's side of the session: DHT peers found, counters, port maps.
  TorrentService::DhtPeersHandler dht_peers_handler;
  TorrentService::NetworkStats network_stats;
  int metric_dht_nodes = -1, metric_dht_bytes_in = -1, metric_dht_bytes_out = -1;
  std::chrono::steady_clock::time_point last_stats{};
  std::chrono::steady_clock::time_point last_state_save = std::chrono::steady_clock::now();
  std::map<int, std::uint16_t> mapped_ports;  // port_mapping_t asked for by map_port -> local port
  std::vector<TorrentService::PortMapping> port_mappings;
  void port_mapped(int mapping, std::uint16_t external_port, const std::string& method, const std::string& error);
  void save_session_state();
  std::ofstream log;  // --bt-log, when asked for
  std::chrono::steady_clock::time_point log_start = std::chrono::steady_clock::now();

  Impl(const TorrentOptions& o, indexer::Index& i, ContentStore& s) : options(o), index(i), store(s) {}

  std::filesystem::path resume_dir() const { return options.data_dir / "resume"; }
  std::filesystem::path partial_dir(const std::string& info_hash) const {
    return options.data_dir / "partial" / info_hash;
  }
  std::filesystem::path partial_file(const std::string& info_hash, lt::file_index_t index) const {
    return partial_dir(info_hash) / std::to_string(static_cast<int>(index));
  }
  // What a partial file holds: its allocated blocks, not its size, as
  // partial files are sparse. 0 when there is no such file.
  static std::uint64_t allocated_bytes(const std::filesystem::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
  }

  // torrents.cpp: adding a release.
  p::Result<lt::add_torrent_params> params_for(const p::Record& rec, Managed* m, bool images_only, bool fetching,
                                               const std::vector<std::string>* only = nullptr);
  // Takes the release's torrent out of the session (and its v1-compat
  // one), forgetting its resume data and, with `forget`, its partial files
  // and peer hints.
  void remove(std::map<std::string, Managed>::iterator it, bool forget = true);
  bool disk_ahead_of_resume(const Managed& m, const lt::add_torrent_params& atp) const;
  p::Status add(const p::Record& rec, bool images_only, bool fetching, const std::vector<std::string>* only = nullptr);
  std::uint64_t free_bytes() const;

  static bool wanted_stored(const Managed& m) {
    return std::all_of(m.slots.begin(), m.slots.end(), [](const Slot& s) { return !s.wanted || s.stored; });
  }

  static bool any_in_place(const Managed& m) {
    return std::any_of(m.slots.begin(), m.slots.end(), [](const Slot& s) { return s.in_place; });
  }

  static bool all_stored(const Managed& m) {
    return std::all_of(m.slots.begin(), m.slots.end(), [](const Slot& s) { return s.stored; });
  }

  // torrent_alerts.cpp: the v1-compat torrents, alerts, verification and
  // renames into the store.
  void add_compat(Managed& m, bool seeding);
  void look_for_peers();
  lt::torrent_handle* fallback_of(const Managed& m);
  Managed* fetched_through(const lt::torrent_handle& h);
  void keep_apart(Managed& m);
  void compat_finished(const lt::torrent_handle& h);
  void checked(Managed& m);
  Managed* find(const lt::torrent_handle& h);
  std::pair<std::size_t, std::size_t> piece_range(const Managed& m, const Slot& s) const;
  void request(Managed& m, std::size_t piece);
  void sample_senders(Managed& m);
  void resync(Managed& m, const lt::alerts_dropped_alert& dropped);
  void catch_up(Managed& m, const lt::typed_bitfield<lt::piece_index_t>& pieces);
  void keep_hashing();
  void advance(Managed& m, std::size_t i);
  void complete(Managed& m, std::size_t i);
  static constexpr std::size_t kReadAhead = 32;  // see request_window
  static constexpr std::size_t kMaxHints = 64;   // peers named for one fetch, kept in resume/<info-hash>.peers
  void request_window(Managed& m, const Slot& s);
  void finish_verifications();
  void start_renames();
  static std::uint64_t bytes_missing(const lt::torrent_status& st);
  void storage_error(Managed& m, const lt::error_code& error, const std::string& file);
  void rename_done();
  void log_alerts(const std::vector<lt::alert*>& alerts);
  void handle_alerts();
};

}  // namespace seedbank::node
