#include "seedbank/node/torrents.h"

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <libtorrent/write_resume_data.hpp>

#include <sys/stat.h>
#include <sys/statvfs.h>

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
#include "seedbank/protocol/content_hash.h"

namespace seedbank::node {
namespace {

namespace p = seedbank::protocol;
using p::ErrorCode;
using p::make_error;

p::Bytes read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return p::Bytes(std::istreambuf_iterator<char>(in), {});
}

p::Status write_atomically(const std::filesystem::path& path, const std::vector<char>& bytes) {
  return write_file_atomically(path, std::string_view(bytes.data(), bytes.size()));
}

std::string hex_of_v1(const lt::sha1_hash& h) {
  return p::to_hex(p::ByteView(reinterpret_cast<const std::uint8_t*>(h.data()), 20));
}

std::string hex_of(const lt::sha256_hash& h) {
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
  bool stored = false;         // in the content store, verified
  bool verifying = false;      // the digest is being finished
  bool moving = false;         // verified; being renamed into the store
  bool failed = false;         // its SHA-256 did not match: never hashed or stored again
  bool complete_seen = false;  // libtorrent has every piece of the file
  std::uint64_t offset = 0;    // where the file starts in the torrent (piece-aligned)
  std::uint64_t queued = 0;    // bytes handed to the verifier so far, in order
  std::shared_ptr<p::Sha256Stream> stream = std::make_shared<p::Sha256Stream>();
};

struct Managed {
  p::RecordId release{};
  std::string release_hex, info_hash, name;
  lt::torrent_handle handle;
  std::vector<Slot> slots;
  std::vector<bool> requested;                                               // pieces asked for with read_piece
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
// A file's SHA-256 is then ready moments after its last piece.
class Verifier {
 public:
  struct Task {
    std::string info_hash;
    std::size_t slot;
    boost::shared_array<char> data;  // a piece
    std::size_t start = 0, length = 0;
    bool finish = false;
    std::shared_ptr<p::Sha256Stream> stream;
  };
  struct Done {
    std::string info_hash;
    std::size_t slot;
    p::Result<p::Sha256Digest> digest;
  };

  Verifier() : thread_([this] { run(); }) {}
  ~Verifier() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void push(Task task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }
  void set_notify(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    notify_ = std::move(fn);
  }
  std::vector<Done> take_done() {
    std::lock_guard lock(mutex_);
    return std::exchange(done_, {});
  }

 private:
  void run() {
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (stop_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      if (task.length)
        task.stream->update(
            p::ByteView(reinterpret_cast<const std::uint8_t*>(task.data.get()) + task.start, task.length));
      if (task.finish) {
        std::function<void()> notify;
        {
          std::lock_guard lock(mutex_);
          done_.push_back({task.info_hash, task.slot, task.stream->finish()});
          notify = notify_;
        }
        if (notify) notify();
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::vector<Done> done_;
  std::function<void()> notify_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

p::Bytes torrent_file_of(schema::Release::Reader release) {
  auto t = release.getTorrent();
  std::string whole = "d4:info";
  whole.append(reinterpret_cast<const char*>(t.getInfo().begin()), t.getInfo().size());
  if (t.getPieceLayers().size()) {
    whole += "12:piece layers";
    whole.append(reinterpret_cast<const char*>(t.getPieceLayers().begin()), t.getPieceLayers().size());
  }
  whole += "e";
  return p::Bytes(whole.begin(), whole.end());
}

struct TorrentService::Impl {
  TorrentOptions options;
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

  // Builds the add parameters for a release: files mapped onto the store
  // when they are there, onto partial/ otherwise.
  p::Result<lt::add_torrent_params> params_for(const p::Record& rec, Managed* m, bool images_only, bool fetching,
                                               const std::vector<std::string>* only = nullptr) {
    auto r = rec.body().getPayload().getRelease();
    auto bytes = torrent_file_of(r);
    lt::error_code ec;
    auto ti = std::make_shared<lt::torrent_info>(
        lt::span<char const>(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size())), ec,
        lt::from_span);
    if (ec)
      return make_error(ErrorCode::malformed,
                        "release " + p::to_hex(rec.id()) + ": its torrent does not load: " + ec.message());
    lt::add_torrent_params atp;
    m->info_hash = hex_of(ti->info_hashes().v2);
    auto resume = resume_dir() / (m->info_hash + ".resume");
    if (std::filesystem::exists(resume)) {
      auto buf = read_all(resume);
      lt::add_torrent_params loaded = lt::read_resume_data(
          lt::span<char const>(reinterpret_cast<const char*>(buf.data()), static_cast<long>(buf.size())), ec);
      if (!ec) atp = std::move(loaded);
      atp.piece_priorities.clear();  // pieces held for a fallback of an earlier run (keep_apart)
    }
    atp.ti = ti;
    atp.save_path = store.root().string();
    // Trackers recorded in the release (outside the info dictionary).
    atp.trackers.clear();
    for (auto t : r.getTorrent().getTrackers()) atp.trackers.emplace_back(t.cStr());
    for (const auto& t : options.trackers)
      if (std::find(atp.trackers.begin(), atp.trackers.end(), t) == atp.trackers.end()) atp.trackers.push_back(t);
    m->trackers = atp.trackers;
    if (options.v1_compat) {
      if (auto c = v1_compat_info(r)) m->compat_info = std::move(c->info);
    }
    m->release = rec.id();
    m->release_hex = p::to_hex(rec.id());
    m->name = ti->name();
    m->slots.clear();
    std::map<std::string, std::pair<bool, unsigned>> by_name;  // name -> (image, index)
    for (unsigned i = 0; i < r.getFiles().size(); ++i) by_name[r.getFiles()[i].getName().cStr()] = {false, i};
    for (unsigned i = 0; i < r.getImages().size(); ++i) by_name[r.getImages()[i].getName().cStr()] = {true, i};
    const auto& fs = ti->files();
    m->piece_size = static_cast<std::uint64_t>(fs.piece_length());
    m->requested.assign(static_cast<std::size_t>(fs.num_pieces()), false);
    // Pad files keep the default priority; an unwanted file anywhere would
    // also take a seed out of seed mode.
    atp.file_priorities.assign(static_cast<std::size_t>(fs.num_files()), lt::default_priority);
    for (auto i : fs.file_range()) {
      if (fs.pad_file_at(i)) continue;
      std::string name(fs.file_name(i));
      auto it = by_name.find(name);
      if (it == by_name.end())
        return make_error(ErrorCode::malformed,
                          "release " + m->release_hex + ": torrent file '" + name + "' is not listed in the release");
      Slot slot;
      slot.index = i;
      slot.name = name;
      slot.image = it->second.first;
      auto sha = slot.image ? r.getImages()[it->second.second].getSha256()
                            : r.getFiles()[it->second.second].getHashes().getSha256();
      std::memcpy(slot.sha256.data(), sha.begin(), 32);
      slot.size = static_cast<std::uint64_t>(fs.file_size(i));
      slot.offset = static_cast<std::uint64_t>(fs.file_offset(i));
      slot.stored = store.contains(slot.sha256);
      slot.wanted = slot.stored || !fetching ||
                    (only ? std::find(only->begin(), only->end(), name) != only->end() : !images_only || slot.image);
      atp.file_priorities[static_cast<std::size_t>(static_cast<int>(i))] =
          slot.wanted ? lt::default_priority : lt::dont_download;
      atp.renamed_files[i] = slot.stored ? store.path_of(slot.sha256).string() : partial_file(m->info_hash, i).string();
      m->slots.push_back(slot);
    }
    // A node killed between two saves of its resume data left more on disk
    // than that data says it has. Trusting it would download those pieces
    // again; without a have-list libtorrent checks the files instead.
    if (!atp.have_pieces.empty() && disk_ahead_of_resume(*m, atp)) {
      atp.have_pieces.clear();
      atp.verified_pieces.clear();
      atp.unfinished_pieces.clear();
    }
    // Added active and unmanaged: auto-management would queue all but a few.
    // libtorrent answers a full disk with upload mode and keeps that in the
    // resume data; a fetch (the user's retry) must download again.
    atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed | lt::torrent_flags::upload_mode);
    bool all_stored = std::all_of(m->slots.begin(), m->slots.end(), [](const Slot& s) { return s.stored; });
    bool all_wanted = std::all_of(m->slots.begin(), m->slots.end(), [](const Slot& s) { return s.wanted; });
    if (all_wanted) atp.file_priorities.clear();
    if (all_stored && !std::filesystem::exists(resume)) atp.flags |= lt::torrent_flags::seed_mode;
    // In order, so files can be hashed while they arrive. Files stay sparse
    // (add() checks the free space first; a disk that fills up later stops
    // the torrent with a clear error, see storage_error).
    if (!all_stored) atp.flags |= lt::torrent_flags::sequential_download;
    return atp;
  }

  // Whether some partial file holds more than a piece beyond the pieces the
  // resume data has or has begun.
  bool disk_ahead_of_resume(const Managed& m, const lt::add_torrent_params& atp) const {
    if (m.piece_size == 0) return false;
    for (const auto& slot : m.slots) {
      if (slot.stored) continue;
      std::uint64_t accounted = 0;
      auto [first, end] = piece_range(m, slot);
      for (auto i = first; i < end; ++i) {
        lt::piece_index_t piece(static_cast<int>(i));
        bool have = piece < atp.have_pieces.end_index() && atp.have_pieces.get_bit(piece);
        if (have || atp.unfinished_pieces.count(piece)) accounted += m.piece_size;
      }
      if (allocated_bytes(partial_file(m.info_hash, slot.index)) > accounted + m.piece_size) return true;
    }
    return false;
  }

  p::Status add(const p::Record& rec, bool images_only, bool fetching, const std::vector<std::string>* only = nullptr) {
    if (rec.kind() != p::RecordKind::release)
      return make_error(ErrorCode::invalid_argument, p::to_hex(rec.id()) + " is not a release");
    Managed m;
    auto atp = params_for(rec, &m, images_only, fetching, only);
    if (!atp) return atp.error();
    if (fetching) {
      std::uint64_t need = 0, written = 0;  // written: by an earlier attempt
      for (const auto& slot : m.slots)
        if (slot.wanted && !slot.stored) {
          need += slot.size;
          written += allocated_bytes(partial_file(m.info_hash, slot.index));
        }
      std::uint64_t used = options.store_quota > 0 ? store.used_bytes() : 0;
      if (options.store_quota > 0 && used + need > options.store_quota)
        return make_error(ErrorCode::limit, "the store holds " + std::to_string(used) +
                                                " bytes and this release needs " + std::to_string(need) +
                                                " more, over the quota of " + std::to_string(options.store_quota) +
                                                " bytes; raise --store-quota or free space");
      need -= std::min(need, written);
      auto free = free_bytes();
      if (need > free)
        return make_error(ErrorCode::limit, "the disk holding " + options.data_dir.string() + " has " +
                                                std::to_string(free) + " bytes free and this release needs " +
                                                std::to_string(need) +
                                                "; free space or use a data dir on a larger disk");
    }
    auto existing = torrents.find(m.info_hash);
    if (existing != torrents.end()) {
      // Already known: widen what is wanted (e.g. images first, then all),
      // and retry after an error such as a full disk.
      // (A file that failed its SHA-256 check stays failed: the release's
      // torrent does not hold what it claims, and retrying cannot help.)
      if (fetching && !existing->second.error.empty() && existing->second.error_kind != ErrorKind::verification) {
        existing->second.error.clear();
        existing->second.error_kind = ErrorKind::none;
        existing->second.handle.clear_error();
        existing->second.handle.unset_flags(lt::torrent_flags::upload_mode);
        existing->second.handle.resume();
      }
      if (fetching) {
        // A v1-compat download over the same files (the fallback when the
        // hybrid swarm had no peers) must want them too: otherwise it holds
        // the peers while nothing fetches the newly wanted files.
        lt::torrent_handle* fallback = fallback_of(existing->second);
        for (std::size_t i = 0; i < existing->second.slots.size(); ++i) {
          auto& slot = existing->second.slots[i];
          if (!slot.wanted && m.slots[i].wanted) {
            slot.wanted = true;
            existing->second.handle.file_priority(slot.index, lt::default_priority);
            if (fallback) fallback->file_priority(slot.index, lt::default_priority);
          }
        }
        // (New file priorities reset the pieces' own once the disk thread has
        // applied them: keep_apart runs again on file_prio_alert.)
      }
      return {};
    }
    std::error_code fec;
    std::filesystem::create_directories(partial_dir(m.info_hash), fec);
    lt::error_code ec;
    m.handle = session->add_torrent(std::move(*atp), ec);
    if (ec) return make_error(ErrorCode::io, "cannot add torrent " + m.info_hash + ": " + ec.message());
    auto& added = torrents.emplace(m.info_hash, std::move(m)).first->second;
    if (all_stored(added)) add_compat(added, true);
    // A fetch is remembered at once: a node killed before its next save
    // still resumes it after a restart.
    else if (fetching)
      added.handle.save_resume_data(lt::torrent_handle::save_info_dict);
    return {};
  }

  static bool all_stored(const Managed& m) {
    return std::all_of(m.slots.begin(), m.slots.end(), [](const Slot& s) { return s.stored; });
  }

  // Adds the release's v1-compat torrent over the same files: the store's
  // when seeding, the hybrid's partial files when downloading.
  void add_compat(Managed& m, bool seeding) {
    if (m.compat_info.empty()) return;
    if (auto it = compat.find(m.info_hash); it != compat.end()) {
      if (it->second.seeding == seeding) return;
      session->remove_torrent(it->second.handle);
      compat.erase(it);
    }
    std::string whole = "d4:info";
    whole.append(m.compat_info.begin(), m.compat_info.end());
    whole += "e";
    lt::error_code ec;
    auto ti = std::make_shared<lt::torrent_info>(lt::span<char const>(whole.data(), static_cast<long>(whole.size())),
                                                 ec, lt::from_span);
    if (ec) return;  // derived from a verified info dictionary; cannot happen
    lt::add_torrent_params atp;
    atp.ti = ti;
    atp.save_path = store.root().string();
    atp.trackers = m.trackers;
    atp.file_priorities.assign(static_cast<std::size_t>(ti->files().num_files()), lt::default_priority);
    for (const auto& slot : m.slots) {
      atp.renamed_files[slot.index] =
          slot.stored ? store.path_of(slot.sha256).string() : partial_file(m.info_hash, slot.index).string();
      if (!slot.wanted) atp.file_priorities[static_cast<std::size_t>(static_cast<int>(slot.index))] = lt::dont_download;
    }
    atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
    atp.flags |= seeding ? lt::torrent_flags::seed_mode : lt::torrent_flags::sequential_download;
    auto handle = session->add_torrent(std::move(atp), ec);
    if (!ec) compat[m.info_hash] = {handle, seeding};
  }

  // Once a second, for fetches without peers: retry the --peer hints, and
  // after a few seconds with none in the hybrid swarm also join the
  // v1-compat swarm, where plain v1 clients seed.
  void look_for_peers() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_peer_check < std::chrono::seconds(1)) return;
    last_peer_check = now;
    for (auto& [ih, m] : torrents) {
      if (!m.error.empty()) continue;
      bool pending = std::any_of(m.slots.begin(), m.slots.end(), [](const Slot& s) { return s.wanted && !s.stored; });
      if (!pending) continue;
      if (m.handle.status().num_peers > 0) {
        m.peerless_since.reset();
        continue;
      }
      for (const auto& hint : m.hints) m.handle.connect_peer(hint);
      if (!m.peerless_since)
        m.peerless_since = now;
      else if (now - *m.peerless_since >= std::chrono::seconds(5) && !compat.count(ih) && !m.compat_fallback_done)
        add_compat(m, false);
    }
  }

  // The downloading v1-compat fallback of a fetch, if it has one.
  lt::torrent_handle* fallback_of(const Managed& m) {
    auto c = compat.find(m.info_hash);
    return c == compat.end() || c->second.seeding || !c->second.handle.is_valid() ? nullptr : &c->second.handle;
  }

  // The fetch a downloading v1-compat fallback torrent works for, if `h` is one.
  Managed* fetched_through(const lt::torrent_handle& h) {
    for (auto& [ih, c] : compat) {
      if (c.seeding || c.handle != h) continue;
      auto m = torrents.find(ih);
      return m == torrents.end() ? nullptr : &m->second;
    }
    return nullptr;
  }

  // While the fallback downloads, it and the hybrid torrent write the same
  // partial files, and HTTP streams read pieces either has checked. Neither
  // may write over such a piece: a bad peer in one swarm would spoil checked
  // data (a stream may have sent it; the file would fail its SHA-256 for
  // good). A piece one of them has is not downloaded by the other. Called
  // when the fallback has checked what is on disk and whenever new file
  // priorities have been applied to either (file_prio_alert: they reset the
  // pieces' own); pieces finished later are handed over one by one in
  // handle_alerts. A block already requested may still arrive after its
  // piece got priority 0, so the recheck in compat_finished stays.
  void keep_apart(Managed& m) {
    lt::torrent_handle* fallback = fallback_of(m);
    if (!fallback) return;
    auto mine = m.handle.status(lt::torrent_handle::query_pieces).pieces;
    auto theirs = fallback->status(lt::torrent_handle::query_pieces).pieces;
    std::vector<std::pair<lt::piece_index_t, lt::download_priority_t>> to_fallback;
    for (lt::piece_index_t i(0); i < mine.end_index(); ++i)
      if (mine.get_bit(i))
        to_fallback.emplace_back(i, lt::dont_download);
      else if (i < theirs.end_index() && theirs.get_bit(i))
        m.held.insert(i);
    std::vector<std::pair<lt::piece_index_t, lt::download_priority_t>> to_hybrid;
    for (auto i : m.held) to_hybrid.emplace_back(i, lt::dont_download);
    if (!to_fallback.empty()) fallback->prioritize_pieces(to_fallback);
    if (!to_hybrid.empty()) m.handle.prioritize_pieces(to_hybrid);
  }

  // The v1-compat download finished: the hybrid torrent rechecks the shared
  // partial files and takes over (SHA-256 check, move into the store).
  void compat_finished(const lt::torrent_handle& h) {
    for (auto it = compat.begin(); it != compat.end(); ++it) {
      if (it->second.handle != h || it->second.seeding) continue;
      auto m = torrents.find(it->first);
      if (m != torrents.end()) keep_apart(m->second);  // notes every piece it has that the hybrid lacks
      session->remove_torrent(it->second.handle);
      compat.erase(it);
      if (m != torrents.end()) {
        m->second.compat_fallback_done = true;
        m->second.peerless_since.reset();
        // Pieces the recheck finds bad are downloaded here again.
        std::vector<std::pair<lt::piece_index_t, lt::download_priority_t>> back;
        for (auto i : m->second.held) {
          auto piece = static_cast<std::size_t>(static_cast<int>(i));
          bool wanted = std::any_of(m->second.slots.begin(), m->second.slots.end(), [&](const Slot& s) {
            auto [first, end] = piece_range(m->second, s);
            return s.wanted && piece >= first && piece < end;
          });
          back.emplace_back(i, wanted ? lt::default_priority : lt::dont_download);
        }
        m->second.held.clear();
        if (!back.empty()) m->second.handle.prioritize_pieces(back);
        m->second.handle.force_recheck();
      }
      return;
    }
  }

  // After a recheck, files found complete raise no completion alerts.
  void checked(Managed& m) {
    std::vector<std::int64_t> progress;
    m.handle.file_progress(progress, lt::torrent_handle::piece_granularity);
    for (std::size_t i = 0; i < m.slots.size(); ++i) {
      const Slot& s = m.slots[i];
      auto at = static_cast<std::size_t>(static_cast<int>(s.index));
      if (s.wanted && !s.stored && at < progress.size() && static_cast<std::uint64_t>(progress[at]) == s.size)
        complete(m, i);
    }
    // Saved again once checked, so the resume data lists what the check
    // found (the save made when the fetch began came before it).
    if (!all_stored(m)) m.handle.save_resume_data(lt::torrent_handle::save_info_dict);
  }

  Managed* find(const lt::torrent_handle& h) {
    auto ih = h.info_hashes();
    if (!ih.has_v2()) return nullptr;
    auto it = torrents.find(hex_of(ih.v2));
    return it == torrents.end() ? nullptr : &it->second;
  }

  std::pair<std::size_t, std::size_t> piece_range(const Managed& m, const Slot& s) const {
    return {static_cast<std::size_t>(s.offset / m.piece_size),
            static_cast<std::size_t>((s.offset + s.size + m.piece_size - 1) / m.piece_size)};
  }

  void request(Managed& m, std::size_t piece) {
    if (piece >= m.requested.size() || m.requested[piece]) return;
    m.requested[piece] = true;
    m.handle.read_piece(lt::piece_index_t(static_cast<int>(piece)));
  }

  // Hands the verifier the bytes that follow, without a gap, what it had;
  // finishes the digest once the whole file is queued and complete.
  void advance(Managed& m, std::size_t i) {
    Slot& s = m.slots[i];
    if (s.stored || s.verifying || s.moving || s.failed || !s.wanted) return;
    while (s.queued < s.size) {
      std::uint64_t at = s.offset + s.queued;
      auto piece = static_cast<std::size_t>(at / m.piece_size);
      auto it = m.arrived.find(piece);
      if (it == m.arrived.end()) break;
      std::uint64_t start = at - piece * m.piece_size;
      std::uint64_t length =
          std::min<std::uint64_t>(static_cast<std::uint64_t>(it->second.second) - start, s.size - s.queued);
      verifier.push({m.info_hash, i, it->second.first, static_cast<std::size_t>(start),
                     static_cast<std::size_t>(length), false, s.stream});
      s.queued += length;
      m.arrived.erase(it);  // pieces never span two files (they are piece-aligned)
    }
    if (s.complete_seen) request_window(m, s);
    if (s.queued == s.size && s.complete_seen) {
      s.verifying = true;
      verifier.push({m.info_hash, i, {}, 0, 0, true, s.stream});
    }
  }

  // The file is complete: ask for every piece not seen yet (pieces found by
  // a recheck raise no piece alerts), then finish in advance().
  void complete(Managed& m, std::size_t i) {
    Slot& s = m.slots[i];
    if (s.stored || s.verifying || s.moving || s.failed || s.complete_seen) return;
    s.complete_seen = true;
    request_window(m, s);
    advance(m, i);
  }

  // Reads back at most kReadAhead pieces beyond what the verifier has, so
  // a file found complete at once (a recheck) is not held in memory whole.
  static constexpr std::size_t kReadAhead = 32;
  void request_window(Managed& m, const Slot& s) {
    auto [first, end] = piece_range(m, s);
    auto from = static_cast<std::size_t>((s.offset + s.queued) / m.piece_size);
    for (auto piece = std::max(first, from); piece < end && piece < from + kReadAhead; ++piece) request(m, piece);
  }

  void finish_verifications() {
    for (auto& done : verifier.take_done()) {
      auto t = torrents.find(done.info_hash);
      if (t == torrents.end()) continue;
      Managed& m = t->second;
      Slot& s = m.slots[done.slot];
      s.verifying = false;
      if (!done.digest) {
        m.error = done.digest.error().message;
      } else if (*done.digest != s.sha256) {
        // The torrent's pieces verified, but the bytes are not what the
        // signed release promises: never store or serve them.
        m.error_kind = ErrorKind::verification;
        s.failed = true;
        m.error = s.name + ": SHA-256 " + p::to_hex(*done.digest) + " does not match the release's " +
                  p::to_hex(s.sha256) + "; the release's torrent does not hold the file it claims";
        m.handle.file_priority(s.index, lt::dont_download);
        m.handle.pause();
      } else {
        // Verified: libtorrent renames it into the store (atomic, same filesystem).
        auto dest = store.path_of(s.sha256);
        std::error_code ec;
        std::filesystem::create_directories(dest.parent_path(), ec);
        // Until the rename lands, nothing may hash this file again (a
        // second finish() would digest an empty stream).
        s.moving = true;
        waiting_renames.emplace_back(m.info_hash, done.slot);
      }
    }
    start_renames();
  }

  // Renames verified files into the store under the store lock. A publish
  // in another process may hold it for a while (copying a big file): then
  // try again at the next poll rather than block this thread.
  void start_renames() {
    if (waiting_renames.empty()) return;
    if (!rename_lock) {
      auto lock = store.try_lock();
      if (!lock) {
        for (auto& [ih, slot] : waiting_renames)
          if (auto t = torrents.find(ih); t != torrents.end())
            t->second.error = "cannot lock the store to move a verified file in: " + lock.error().message;
        waiting_renames.clear();
        return;
      }
      if (!*lock) return;  // busy: next poll
      rename_lock.emplace(std::move(**lock));
    }
    for (auto& [ih, slot] : std::exchange(waiting_renames, {})) {
      auto t = torrents.find(ih);
      if (t == torrents.end()) continue;
      Managed& m = t->second;
      Slot& s = m.slots[slot];
      ++renames_pending;
      m.handle.rename_file(s.index, store.path_of(s.sha256).string());
    }
  }

  // Bytes still to be written for the wanted files of a torrent.
  static std::uint64_t bytes_missing(const lt::torrent_status& st) {
    auto wanted = static_cast<std::uint64_t>(st.total_wanted), done = static_cast<std::uint64_t>(st.total_wanted_done);
    return wanted > done ? wanted - done : 0;
  }

  std::uint64_t free_bytes() const {
    struct statvfs fs {};
    if (::statvfs((options.data_dir / "partial").c_str(), &fs) != 0) return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  }

  // A write failed. libtorrent stops the torrent; say whether the disk is
  // full (writes through a memory map report a full disk as EFAULT).
  void storage_error(Managed& m, const lt::error_code& error, const std::string& file) {
    auto missing = bytes_missing(m.handle.status());
    auto free = free_bytes();
    if (error == boost::system::errc::no_space_on_device ||
        (error == boost::system::errc::bad_address && free < missing)) {
      m.error_kind = ErrorKind::disk_full;
      m.error = "the disk holding " + options.data_dir.string() + " is full (" + std::to_string(free) +
                " bytes free, " + std::to_string(missing) +
                " more needed); the download is paused and nothing unverified entered the store; free space and "
                "run the fetch again to continue";
    } else {
      m.error_kind = ErrorKind::io;
      m.error = (file.empty() ? std::string() : file + ": ") + error.message();
    }
  }

  void rename_done() {
    if (renames_pending > 0 && --renames_pending == 0) rename_lock.reset();
  }

  // --bt-log: one line per alert, flushed per batch so that the log's tail
  // is current while the node runs.
  void log_alerts(const std::vector<lt::alert*>& alerts) {
    if (!log.is_open() || alerts.empty()) return;
    for (const lt::alert* a : alerts) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - log_start);
      log << ms.count() / 1000 << '.' << std::setw(3) << std::setfill('0') << ms.count() % 1000 << ' ' << a->what()
          << ": " << a->message() << '\n';
    }
    log.flush();
  }

  void handle_alerts() {
    std::vector<lt::alert*> alerts;
    session->pop_alerts(&alerts);
    log_alerts(alerts);
    for (lt::alert* a : alerts) {
      if (auto* pf = lt::alert_cast<lt::piece_finished_alert>(a)) {
        if (Managed* m = find(pf->handle)) {
          auto piece = static_cast<std::size_t>(static_cast<int>(pf->piece_index));
          for (auto& slot : m->slots) {
            auto [first, end] = piece_range(*m, slot);
            if (slot.wanted && !slot.stored && piece >= first && piece < end) request(*m, piece);
          }
          if (lt::torrent_handle* fallback = fallback_of(*m))
            fallback->piece_priority(pf->piece_index, lt::dont_download);  // see keep_apart
        } else if (Managed* fetch = fetched_through(pf->handle)) {
          fetch->held.insert(pf->piece_index);
          fetch->handle.piece_priority(pf->piece_index, lt::dont_download);
        }
      } else if (auto* rp = lt::alert_cast<lt::read_piece_alert>(a)) {
        if (Managed* m = find(rp->handle)) {
          if (rp->error) {
            m->error = "cannot read back a downloaded piece: " + rp->error.message();
          } else {
            m->arrived[static_cast<std::size_t>(static_cast<int>(rp->piece))] = {rp->buffer, rp->size};
            for (std::size_t i = 0; i < m->slots.size(); ++i) advance(*m, i);
          }
        }
      } else if (auto* fc = lt::alert_cast<lt::file_completed_alert>(a)) {
        if (Managed* m = find(fc->handle))
          for (std::size_t i = 0; i < m->slots.size(); ++i)
            if (m->slots[i].index == fc->index) complete(*m, i);
      } else if (auto* fr = lt::alert_cast<lt::file_renamed_alert>(a)) {
        rename_done();
        if (Managed* m = find(fr->handle)) {
          for (auto& s : m->slots)
            if (s.index == fr->index && std::string(fr->new_name()) == store.path_of(s.sha256).string()) {
              s.stored = true;
              s.moving = false;
            }
          if (all_stored(*m)) add_compat(*m, true);
        }
      } else if (auto* tf = lt::alert_cast<lt::torrent_finished_alert>(a)) {
        if (!tf->handle.info_hashes().has_v2()) compat_finished(tf->handle);
      } else if (auto* tc = lt::alert_cast<lt::torrent_checked_alert>(a)) {
        if (Managed* m = find(tc->handle))
          checked(*m);
        else if (Managed* fetch = fetched_through(tc->handle))
          keep_apart(*fetch);
      } else if (auto* fp = lt::alert_cast<lt::file_prio_alert>(a)) {
        if (Managed* m = find(fp->handle))
          keep_apart(*m);
        else if (Managed* fetch = fetched_through(fp->handle))
          keep_apart(*fetch);
      } else if (auto* ff = lt::alert_cast<lt::file_rename_failed_alert>(a)) {
        rename_done();
        if (Managed* m = find(ff->handle)) {
          m->error = "cannot move a verified file into the store: " + ff->error.message();
          for (auto& s : m->slots)
            if (s.index == ff->index) s.moving = false;
        }
      } else if (auto* te = lt::alert_cast<lt::torrent_error_alert>(a)) {
        if (Managed* m = find(te->handle)) storage_error(*m, te->error, te->filename());
      } else if (auto* fe = lt::alert_cast<lt::file_error_alert>(a)) {
        if (Managed* m = find(fe->handle)) storage_error(*m, fe->error, fe->filename());
      } else if (auto* rd = lt::alert_cast<lt::save_resume_data_alert>(a)) {
        if (rd->params.info_hashes.has_v2())
          (void)write_atomically(resume_dir() / (hex_of(rd->params.info_hashes.v2) + ".resume"),
                                 lt::write_resume_data_buf(rd->params));
      } else if (auto* ls = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
        if (ls->socket_type == lt::socket_type_t::tcp)
          listen_address = ls->address.to_string() + ":" + std::to_string(ls->port);
      }
    }
  }
};

TorrentService::TorrentService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TorrentService::~TorrentService() {
  if (impl_ && impl_->session) {
    save_state();
    impl_->session.reset();
  }
}

p::Result<std::unique_ptr<TorrentService>> TorrentService::start(const TorrentOptions& options, indexer::Index& index,
                                                                 ContentStore& store) {
  auto impl = std::make_unique<Impl>(options, index, store);
  std::error_code ec;
  std::filesystem::create_directories(impl->resume_dir(), ec);
  std::filesystem::create_directories(options.data_dir / "partial", ec);

  lt::settings_pack pack = lt::high_performance_seed();
  pack.set_str(lt::settings_pack::listen_interfaces, options.listen);
  pack.set_str(lt::settings_pack::user_agent, "seedbank/0.1");
  // high_performance_seed() closes connections to seeds once a torrent has
  // what it wants, and gives up on a peer after one failed attempt. A fetch
  // that then wants more (the model after its images) would find its seed
  // marked unconnectable and never download: keep the connections, and
  // allow a peer three failures as libtorrent does by default.
  pack.set_bool(lt::settings_pack::close_redundant_connections, false);
  pack.set_int(lt::settings_pack::max_failcount, 3);
  pack.set_int(lt::settings_pack::alert_mask, lt::alert_category::status | lt::alert_category::error |
                                                  lt::alert_category::storage | lt::alert_category::file_progress |
                                                  lt::alert_category::piece_progress);
  if (!options.log_file.empty()) {
    impl->log.open(options.log_file, std::ios::app);
    if (!impl->log)
      return make_error(ErrorCode::io, options.log_file.string() + ": cannot open the BitTorrent log for writing");
    pack.set_int(
        lt::settings_pack::alert_mask,
        pack.get_int(lt::settings_pack::alert_mask) |
            static_cast<int>(lt::alert_category::connect | lt::alert_category::peer | lt::alert_category::tracker |
                             lt::alert_category::peer_log | lt::alert_category::torrent_log));
    // Peers' messages come by the thousand: room so that none of the
    // alerts the fetches act on is dropped.
    pack.set_int(lt::settings_pack::alert_queue_size, 1 << 20);
  }
  // uTP's delay-based congestion control crawls on loopback and LANs.
  pack.set_bool(lt::settings_pack::enable_outgoing_utp, false);
  pack.set_bool(lt::settings_pack::enable_incoming_utp, false);
  pack.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
  pack.set_bool(lt::settings_pack::enable_lsd, options.local_discovery);
  pack.set_bool(lt::settings_pack::enable_upnp, options.port_mapping);
  pack.set_bool(lt::settings_pack::enable_natpmp, options.port_mapping);
  pack.set_bool(lt::settings_pack::enable_dht, options.dht);
  pack.set_bool(lt::settings_pack::dht_restrict_routing_ips, false);
  pack.set_bool(lt::settings_pack::dht_restrict_search_ips, false);
  if (!options.dht_bootstrap.empty()) pack.set_str(lt::settings_pack::dht_bootstrap_nodes, "");
  // A peer that had not loaded a torrent yet is retried soon, not in 60 s.
  pack.set_int(lt::settings_pack::min_reconnect_time, 1);
  // Peers handed to a torrent are dialled on libtorrent's next tick: tick
  // every 100 ms rather than 500, so a fetch connects at once.
  pack.set_int(lt::settings_pack::tick_interval, 100);
  pack.set_int(lt::settings_pack::active_limit, 100000);
  pack.set_int(lt::settings_pack::active_seeds, 100000);
  pack.set_int(lt::settings_pack::active_downloads, 100000);
  if (options.download_limit > 0)
    pack.set_int(lt::settings_pack::download_rate_limit, static_cast<int>(options.download_limit));
  if (options.upload_limit > 0)
    pack.set_int(lt::settings_pack::upload_rate_limit, static_cast<int>(options.upload_limit));

  lt::session_params params(pack);
  auto state = options.data_dir / "session.state";
  if (std::filesystem::exists(state)) {
    auto buf = read_all(state);
    try {
      auto loaded = lt::read_session_params(
          lt::span<char const>(reinterpret_cast<const char*>(buf.data()), static_cast<long>(buf.size())),
          lt::session::save_dht_state);
      params.dht_state = std::move(loaded.dht_state);
    } catch (const std::exception&) {
      // A damaged state file only costs the DHT routing table.
    }
  }
  try {
    impl->session = std::make_unique<lt::session>(std::move(params));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::io, std::string("cannot start BitTorrent on ") + options.listen + ": " + e.what());
  }
  if (options.download_limit > 0 || options.upload_limit > 0) {
    // Peers on loopback and the LAN are in an unlimited class by default;
    // put every address in the global class so the limits hold there too.
    lt::ip_filter classes;
    classes.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"),
                     1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id));
    classes.add_rule(lt::make_address("::"), lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                     1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id));
    impl->session->set_peer_class_filter(classes);
  }
  for (const auto& node : options.dht_bootstrap) {
    auto colon = node.rfind(':');
    if (colon == std::string::npos) continue;
    impl->session->add_dht_node({node.substr(0, colon), std::atoi(node.c_str() + colon + 1)});
  }
  // Wait briefly for the listen socket so listen_address() is meaningful.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (impl->listen_address.empty() && std::chrono::steady_clock::now() < deadline) {
    impl->session->wait_for_alert(std::chrono::milliseconds(100));
    impl->handle_alerts();
  }
  if (impl->listen_address.empty())
    return make_error(ErrorCode::io, "BitTorrent could not listen on " + options.listen +
                                         "; is the port in use? pick another with --bt-listen");
  return std::unique_ptr<TorrentService>(new TorrentService(std::move(impl)));
}

std::size_t TorrentService::seed_all() {
  std::size_t added = 0;
  indexer::ReleaseQuery q;
  q.limit = 100;
  for (;;) {
    auto page = impl_->index.query_releases(q);
    if (!page) break;
    for (const auto& rec : page->items) added += seed(rec) ? 1 : 0;
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  return added;
}

bool TorrentService::seed(const p::Record& rec) {
  if (rec.kind() != p::RecordKind::release) return false;
  auto r = rec.body().getPayload().getRelease();
  // The record's v2 info-hash is the SHA-256 of its info dictionary
  // (verified on ingest), so no torrent needs parsing to find it.
  std::string info_hash = p::to_hex(p::ByteView(r.getTorrent().getInfoHashV2().begin(), 32));
  if (impl_->torrents.count(info_hash)) return false;  // already seeding or fetching
  if (impl_->filter && impl_->filter(rec)) return false;
  bool complete = true;
  for (auto f : r.getFiles()) {
    p::Sha256Digest d;
    std::memcpy(d.data(), f.getHashes().getSha256().begin(), 32);
    complete = complete && impl_->store.contains(d);
  }
  // Unfinished fetches leave resume data; continue those too.
  bool resumable = std::filesystem::exists(impl_->resume_dir() / (info_hash + ".resume"));
  return (complete || resumable) && impl_->add(rec, false, !complete);
}

void TorrentService::set_filter(ReleaseFilter filter) { impl_->filter = std::move(filter); }

std::size_t TorrentService::prune() {
  if (!impl_->filter) return 0;
  std::size_t removed = 0;
  for (auto it = impl_->torrents.begin(); it != impl_->torrents.end();) {
    auto rec = impl_->index.get(it->second.release);
    if (!rec || !impl_->filter(*rec)) {
      ++it;
      continue;
    }
    if (auto c = impl_->compat.find(it->first); c != impl_->compat.end()) {
      if (c->second.handle.is_valid()) impl_->session->remove_torrent(c->second.handle);
      impl_->compat.erase(c);
    }
    if (it->second.handle.is_valid()) impl_->session->remove_torrent(it->second.handle);
    std::error_code ec;
    std::filesystem::remove(impl_->resume_dir() / (it->first + ".resume"), ec);  // not resumed after a restart
    // Its partial data goes too, unless a file is being verified into the
    // store right now (then it is left for a later fetch to reuse).
    bool busy = false;
    for (const auto& slot : it->second.slots) busy = busy || slot.verifying || slot.moving;
    if (!busy) std::filesystem::remove_all(impl_->partial_dir(it->second.info_hash), ec);
    it = impl_->torrents.erase(it);
    ++removed;
  }
  return removed;
}

p::Status TorrentService::fetch(const p::Record& release, bool images_only, const std::vector<std::string>& peers) {
  if (impl_->filter)
    if (auto why = impl_->filter(release))
      return make_error(ErrorCode::conflict, "release " + p::to_hex(release.id()) + " is " + *why + " on this node");
  if (auto st = impl_->add(release, images_only, true); !st) return st;
  add_peers(p::to_hex(release.id()), peers);
  return {};
}

p::Status TorrentService::fetch_files(const p::Record& release, const std::vector<std::string>& files,
                                      const std::vector<std::string>& peers) {
  if (impl_->filter)
    if (auto why = impl_->filter(release))
      return make_error(ErrorCode::conflict, "release " + p::to_hex(release.id()) + " is " + *why + " on this node");
  if (auto st = impl_->add(release, false, true, &files); !st) return st;
  add_peers(p::to_hex(release.id()), peers);
  return {};
}

void TorrentService::add_peers(const std::string& release_hex, const std::vector<std::string>& peers) {
  for (auto& [ih, m] : impl_->torrents) {
    if (m.release_hex != release_hex) continue;
    for (const auto& peer : peers) {
      auto colon = peer.rfind(':');
      if (colon == std::string::npos) continue;
      lt::error_code ec;
      auto addr = lt::make_address(peer.substr(0, colon), ec);
      if (ec) continue;
      lt::tcp::endpoint endpoint(addr, static_cast<std::uint16_t>(std::atoi(peer.c_str() + colon + 1)));
      if (std::find(m.hints.begin(), m.hints.end(), endpoint) == m.hints.end()) m.hints.push_back(endpoint);
      m.handle.connect_peer(endpoint);
    }
  }
}

void TorrentService::set_notify(std::function<void()> notify) {
  impl_->verifier.set_notify(notify);
  impl_->session->set_alert_notify(std::move(notify));
}

bool TorrentService::wait(std::chrono::milliseconds timeout) {
  bool alert = impl_->session->wait_for_alert(timeout) != nullptr;
  poll();
  return alert;
}

void TorrentService::poll() {
  impl_->handle_alerts();
  impl_->finish_verifications();
  impl_->start_renames();
  impl_->look_for_peers();
  // Downloads save their progress every 10 s, so a crash loses at most that.
  auto now = std::chrono::steady_clock::now();
  if (now - impl_->last_resume_save > std::chrono::seconds(10)) {
    impl_->last_resume_save = now;
    for (auto& [ih, m] : impl_->torrents)
      if (!Impl::all_stored(m)) m.handle.save_resume_data(lt::torrent_handle::only_if_modified);
  }
}

std::vector<TorrentStatus> TorrentService::status() {
  std::vector<TorrentStatus> out;
  for (auto& [ih, m] : impl_->torrents) {
    auto st = m.handle.status();
    TorrentStatus s;
    s.release_id = m.release_hex;
    s.name = m.name;
    s.info_hash = ih;
    s.wanted = static_cast<std::uint64_t>(st.total_wanted);
    s.done = static_cast<std::uint64_t>(st.total_wanted_done);
    s.download_rate = static_cast<std::uint64_t>(st.download_payload_rate);
    s.upload_rate = static_cast<std::uint64_t>(st.upload_payload_rate);
    s.downloaded = static_cast<std::uint64_t>(st.total_payload_download);
    s.peers = st.num_peers;
    if (auto c = impl_->compat.find(ih); c != impl_->compat.end()) {
      auto cs = c->second.handle.status();
      s.peers += cs.num_peers;
      s.download_rate += static_cast<std::uint64_t>(cs.download_payload_rate);
      s.upload_rate += static_cast<std::uint64_t>(cs.upload_payload_rate);
      s.downloaded += static_cast<std::uint64_t>(cs.total_payload_download);
      // While the fallback downloads, a piece one of the two has is not
      // wanted by the other (keep_apart): what they have adds up.
      if (!c->second.seeding) {
        s.wanted = 0;
        for (const auto& slot : m.slots) s.wanted += slot.wanted ? slot.size : 0;
        s.done = std::min(s.wanted, static_cast<std::uint64_t>(st.total_wanted_done + cs.total_wanted_done));
      }
      s.v1_compat_info_hash = hex_of_v1(cs.info_hashes.v1);
    }
    bool verifying = false;
    for (const auto& slot : m.slots) {
      s.files_wanted += slot.wanted;
      s.files_stored += slot.wanted && slot.stored;
      verifying = verifying || slot.verifying || slot.moving;
    }
    s.complete = s.files_stored == s.files_wanted;
    s.all_stored = Impl::all_stored(m);
    s.error = m.error;
    s.error_kind = m.error_kind;
    if (s.error.empty() && st.errc)
      s.error = st.errc.message() + (st.error_file >= lt::file_index_t(0)
                                         ? " (file " + std::to_string(static_cast<int>(st.error_file)) + ")"
                                         : "");
    if (!s.error.empty())
      s.state = "error";
    else if (st.state == lt::torrent_status::checking_files || st.state == lt::torrent_status::checking_resume_data)
      s.state = "checking";
    else if (verifying || (!s.complete && st.is_finished && m.held.empty()))
      s.state = "verifying";
    else if (s.complete)
      s.state = "seeding";
    else
      s.state = "downloading";
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<TorrentStatus> TorrentService::status_of(const std::string& release_hex) {
  for (auto& s : status())
    if (s.release_id == release_hex) return s;
  return std::nullopt;
}

std::optional<TorrentService::FileProgress> TorrentService::file_progress(const std::string& release_hex,
                                                                          const std::string& file_name) {
  for (auto& [ih, m] : impl_->torrents) {
    if (m.release_hex != release_hex) continue;
    for (const auto& slot : m.slots) {
      if (slot.name != file_name) continue;
      FileProgress out;
      out.size = slot.size;
      if (slot.stored) {
        out.path = impl_->store.path_of(slot.sha256);
        out.ready = slot.size;
        out.stored = true;
        return out;
      }
      out.path = impl_->partial_file(m.info_hash, slot.index);
      if (slot.failed)
        out.error = "its SHA-256 does not match the signed release";
      else if (!m.error.empty())
        out.error = m.error;
      if (!m.handle.is_valid() || m.piece_size == 0) return out;
      // Files start on a piece boundary (pad files), so the file's pieces
      // run from offset / piece_size on.
      auto first = static_cast<int>(slot.offset / m.piece_size);
      auto pieces = static_cast<int>((slot.size + m.piece_size - 1) / m.piece_size);
      auto st = m.handle.status(lt::torrent_handle::query_pieces);  // one call, not one per piece
      // A v1-compat fallback download writes the same partial files, with
      // the same pieces (checked against the signed v1 piece hashes): its
      // pieces count too, before the hybrid torrent rechecks them.
      lt::typed_bitfield<lt::piece_index_t> fallback;
      if (lt::torrent_handle* c = impl_->fallback_of(m)) fallback = c->status(lt::torrent_handle::query_pieces).pieces;
      auto has = [&](int piece) {
        lt::piece_index_t at(piece);
        return (piece < st.pieces.size() && st.pieces.get_bit(at)) || (piece < fallback.size() && fallback.get_bit(at));
      };
      int have = 0;
      while (have < pieces && has(first + have)) ++have;
      out.ready = std::min<std::uint64_t>(slot.size, static_cast<std::uint64_t>(have) * m.piece_size);
      return out;
    }
  }
  return std::nullopt;
}

std::string TorrentService::listen_address() const { return impl_->listen_address; }

void TorrentService::save_state() {
  auto& session = *impl_->session;
  // Wait for exactly the saves asked for here (earlier periodic saves may
  // still be answered in between).
  std::set<lt::torrent_handle> pending;
  for (auto& [ih, m] : impl_->torrents) {
    if (!m.handle.is_valid()) continue;
    m.handle.save_resume_data(lt::torrent_handle::flush_disk_cache);
    pending.insert(m.handle);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
    if (!session.wait_for_alert(std::chrono::milliseconds(200))) continue;
    std::vector<lt::alert*> alerts;
    session.pop_alerts(&alerts);
    impl_->log_alerts(alerts);
    for (lt::alert* a : alerts) {
      if (auto* rd = lt::alert_cast<lt::save_resume_data_alert>(a)) {
        auto buf = lt::write_resume_data_buf(rd->params);
        if (rd->params.info_hashes.has_v2())
          (void)write_atomically(impl_->resume_dir() / (hex_of(rd->params.info_hashes.v2) + ".resume"), buf);
        if (pending.erase(rd->handle) == 0) continue;  // an earlier save: still written, not counted
      } else if (auto* failed = lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
        pending.erase(failed->handle);
      }
    }
  }
  auto state = lt::write_session_params_buf(session.session_state(lt::session::save_dht_state));
  (void)write_atomically(impl_->options.data_dir / "session.state", state);
}

}  // namespace seedbank::node
