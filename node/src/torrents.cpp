#include "seedbank/node/torrents.h"

#include "files.h"
#include "gossip/endpoint.h"
#include "torrent_spread.h"
#include "torrents_impl.h"

namespace seedbank::node {
namespace {

p::Bytes read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return p::Bytes(std::istreambuf_iterator<char>(in), {});
}

std::string hex_of_v1(const lt::sha1_hash& h) {
  return p::to_hex(p::ByteView(reinterpret_cast<const std::uint8_t*>(h.data()), 20));
}

// What a fetch of `m` wants: "2 files, 1.5 GiB".
std::string wanted_text(const Managed& m) {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
  for (const auto& s : m.slots)
    if (s.wanted && !s.stored) {
      ++files;
      bytes += s.size;
    }
  return std::to_string(files) + (files == 1 ? " file, " : " files, ") + p::util::human_bytes(bytes);
}

}  // namespace

// Builds the add parameters for a release: files mapped onto the store
// when they are there, onto partial/ otherwise.
p::Result<lt::add_torrent_params> TorrentService::Impl::params_for(const p::Record& rec, Managed* m, bool images_only,
                                                                   bool fetching,
                                                                   const std::vector<std::string>* only) {
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
  // The peers named for this fetch (--peer, gossip's seeders) in an earlier
  // run: libtorrent's resume data leaves out a peer it holds a failure
  // against (one dropped connection is enough), and a fetch whose only
  // source was named would then never find it again.
  m->hints.clear();
  if (std::ifstream named(resume_dir() / (m->info_hash + ".peers")); named) {
    for (std::string line; std::getline(named, line) && m->hints.size() < kMaxHints;) {
      auto hp = p::util::parse_host_port(line);
      if (!hp) continue;
      lt::error_code bad;
      auto addr = lt::make_address(hp->host, bad);
      if (bad) continue;
      m->hints.emplace_back(addr, hp->port);
      atp.peers.push_back(m->hints.back());
    }
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
  m->total_size = static_cast<std::uint64_t>(fs.total_size());
  m->requested.assign(static_cast<std::size_t>(fs.num_pieces()), false);
  m->have.assign(static_cast<std::size_t>(fs.num_pieces()), false);
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
    slot.sha256 = p::util::digest_of(sha);
    slot.size = static_cast<std::uint64_t>(fs.file_size(i));
    slot.offset = static_cast<std::uint64_t>(fs.file_offset(i));
    auto where = store.locate(slot.sha256);
    slot.stored = where.has_value();
    slot.in_place = where && where->in_place;
    if (where) slot.path = where->path;
    slot.wanted = slot.stored || !fetching ||
                  (only ? std::find(only->begin(), only->end(), name) != only->end() : !images_only || slot.image);
    // The first sample image before the others: it is the preview tools show.
    bool preview = slot.image && it->second.second == 0 && fetching && !slot.stored;
    // A file shared in place is the user's: libtorrent must never write to
    // it, not even to repair a piece that fails its check after an edit.
    atp.file_priorities[static_cast<std::size_t>(static_cast<int>(i))] = !slot.wanted || slot.in_place
                                                                             ? lt::dont_download
                                                                         : preview ? lt::top_priority
                                                                                   : lt::default_priority;
    atp.renamed_files[i] = slot.stored ? slot.path.string() : partial_file(m->info_hash, i).string();
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
  bool in_place = std::any_of(m->slots.begin(), m->slots.end(), [](const Slot& s) { return s.in_place; });
  if (all_wanted && !in_place) atp.file_priorities.clear();
  // A shared file is checked as libtorrent adds it (no seed mode: a piece
  // that failed its check there would be downloaded into the user's file).
  if (all_stored && !in_place && !std::filesystem::exists(resume)) atp.flags |= lt::torrent_flags::seed_mode;
  // Rarest-first, libtorrent's default, so that nodes fetching together
  // have different pieces to trade (in order, they would all hold the same
  // prefix and take everything from the seed). Resume data of older runs
  // may still carry the flag. Files stay sparse (add() checks the free
  // space first; a disk that fills up later stops the torrent with a clear
  // error, see storage_error).
  atp.flags &= ~lt::torrent_flags::sequential_download;
  // Held whole, it offers each downloader pieces the others lack; whole or
  // not, its upload favours the downloader nearest the end when a crowd is
  // spread out (see torrent_spread.h).
  spread_pieces(atp);
  return atp;
}

// Whether some partial file holds more than a piece beyond the pieces the
// resume data has or has begun.
bool TorrentService::Impl::disk_ahead_of_resume(const Managed& m, const lt::add_torrent_params& atp) const {
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

p::Status TorrentService::Impl::add(const p::Record& rec, bool images_only, bool fetching,
                                    const std::vector<std::string>* only) {
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
      return make_error(ErrorCode::limit, "the store holds " + std::to_string(used) + " bytes and this release needs " +
                                              std::to_string(need) + " more, over the quota of " +
                                              std::to_string(options.store_quota) +
                                              " bytes; raise --store-quota or free space");
    need -= std::min(need, written);
    auto free = free_bytes();
    if (need > free)
      return make_error(ErrorCode::limit, "the disk holding " + options.data_dir.string() + " has " +
                                              std::to_string(free) + " bytes free and this release needs " +
                                              std::to_string(need) + "; free space or use a data dir on a larger disk");
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
    if (fetching && !wanted_stored(m)) {  // a real fetch now: resumed as one after a restart
      std::error_code gone;
      std::filesystem::remove(resume_dir() / (m.info_hash + ".inplace"), gone);
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
          existing->second.fetch_logged = false;
          // A fallback that finished the files wanted before (the images)
          // is gone; the newly wanted ones may need the v1-compat swarm too.
          existing->second.compat_fallback_done = false;
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
  // A torrent that only seeds, some of it from shared files, is marked: its
  // resume data must never turn into a fetch after a restart (of a file the
  // user edited, deleted or stopped sharing while the node was down). A
  // real fetch is not marked, and resumes as any fetch does.
  if (any_in_place(added) && wanted_stored(added))
    (void)write_atomically(resume_dir() / (added.info_hash + ".inplace"), std::vector<char>());
  if (fetching && !wanted_stored(added))
    console.info("fetching " + added.name + " (release " + added.release_hex.substr(0, 12) +
                 "): " + wanted_text(added));
  // (Not for shared files: the v1-compat form has no resume data, so it
  // would read every shared file again at each start.)
  if (all_stored(added) && !any_in_place(added)) add_compat(added, true);
  // A fetch is remembered at once: a node killed before its next save
  // still resumes it after a restart.
  else if (fetching)
    added.handle.save_resume_data(lt::torrent_handle::save_info_dict);
  return {};
}

std::uint64_t TorrentService::Impl::free_bytes() const {
  struct statvfs fs {};
  if (::statvfs((options.data_dir / "partial").c_str(), &fs) != 0) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

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
  remove_abandoned_temps(impl->resume_dir());  // resume data half-written by a killed node
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
                                                  lt::alert_category::piece_progress |
                                                  lt::alert_category::dht_operation | lt::alert_category::port_mapping);
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
  // Routers for a first start (later starts use the routing table saved in
  // session.state): libtorrent's own and the long-standing public ones;
  // --dht-bootstrap replaces them (private DHTs, tests).
  pack.set_str(lt::settings_pack::dht_bootstrap_nodes, options.dht_bootstrap.empty()
                                                           ? "dht.libtorrent.org:25401,router.bittorrent.com:6881,"
                                                             "router.utorrent.com:6881,dht.transmissionbt.com:6881"
                                                           : "");
  // Nodes on one loopback or LAN address (tests, devnets) all count as one
  // sender to libtorrent's DHT flood guard (5 messages/s per IP): raise it
  // there, keep it for the internet.
  if (auto ep = gossip::parse_endpoint(options.listen, true); ep && gossip::is_local_network(ep->address))
    pack.set_int(lt::settings_pack::dht_block_ratelimit, 1000);
  // high_performance_seed() has seeds suggest the pieces in their read
  // cache; in a crowd every leecher then asks the seed for the same pieces,
  // and the seed uploads each several times instead of once.
  pack.set_int(lt::settings_pack::suggest_mode, lt::settings_pack::no_piece_suggestions);
  // Requests queued at a peer: libtorrent keeps 3 s of them by default, and
  // a peer serves them in order, so a piece a streaming reader needs now
  // (asked for by deadline) waits behind them. 1 s still covers any
  // round trip on the internet.
  pack.set_int(lt::settings_pack::request_queue_time, 1);
  // libtorrent asks a peer for whole pieces, and runs of them, when it
  // sends a piece within this many seconds (20 by default): a peer sending
  // 0.5 MiB/s gets asked for runs of 8 MiB (32 pieces of 256 KiB). In a
  // crowd, each leecher then asks the seed for runs starting at its rarest
  // piece, the runs overlap, and the seed uploads pieces twice (bench
  // swarm, 4 and 8 leechers started together: 1.6-1.8x T_min with 20 s,
  // 1.2-1.3x with 1 s). A fast peer still gets runs of up to 8 MiB, as a
  // lone fetch did.
  pack.set_int(lt::settings_pack::whole_pieces_threshold, 1);
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
  std::vector<lt::udp::endpoint> saved_nodes;
  auto state = options.data_dir / "session.state";
  if (std::filesystem::exists(state)) {
    auto buf = read_all(state);
    try {
      auto loaded = lt::read_session_params(
          lt::span<char const>(reinterpret_cast<const char*>(buf.data()), static_cast<long>(buf.size())),
          lt::session::save_dht_state);
      params.dht_state = std::move(loaded.dht_state);
      saved_nodes = params.dht_state.nodes;
      saved_nodes.insert(saved_nodes.end(), params.dht_state.nodes6.begin(), params.dht_state.nodes6.end());
    } catch (const std::exception&) {
      // A damaged state file only costs the DHT routing table.
    }
  }
  try {
    impl->session = std::make_unique<lt::session>(std::move(params));
    impl->session->add_extension(no_self_dial_plugin(impl->own));
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
  // The nodes of the saved routing table: libtorrent bootstraps from them
  // by itself only while its default routers are set, and with
  // --dht-bootstrap a restart must not depend on that router either.
  if (!options.dht_bootstrap.empty())
    for (const auto& ep : saved_nodes) impl->session->add_dht_node({ep.address().to_string(), ep.port()});
  for (const auto& node : options.dht_bootstrap) {
    auto router = p::util::parse_host_port(node);
    if (!router) return make_error(ErrorCode::invalid_argument, "--dht-bootstrap: " + router.error().message);
    impl->session->add_dht_node({router->host, router->port});
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
  for (const char* name : {"dht.dht_nodes", "dht.dht_bytes_in", "dht.dht_bytes_out"})
    if (lt::find_metric_idx(name) < 0) return make_error(ErrorCode::io, std::string("libtorrent has no ") + name);
  impl->metric_dht_nodes = lt::find_metric_idx("dht.dht_nodes");
  impl->metric_dht_bytes_in = lt::find_metric_idx("dht.dht_bytes_in");
  impl->metric_dht_bytes_out = lt::find_metric_idx("dht.dht_bytes_out");
  bool dht = options.dht;
  std::unique_ptr<TorrentService> service(new TorrentService(std::move(impl)));
  service->dht_enabled_ = dht;
  return service;
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
  std::vector<std::string> in_place;  // files shared in place (seedbank share)
  for (auto f : r.getFiles()) {
    auto where = impl_->store.locate(p::util::digest_of(f.getHashes().getSha256()));
    complete = complete && where;
    if (where && where->in_place) in_place.emplace_back(f.getName().cStr());
  }
  // Unfinished fetches leave resume data; continue those too. A torrent
  // that read files shared in place (it left a marker) is no fetch: its
  // resume data must never make the node download what the user edited,
  // deleted or stopped sharing while it was down.
  auto resume = impl_->resume_dir() / (info_hash + ".resume");
  auto marker = impl_->resume_dir() / (info_hash + ".inplace");
  bool shared_before = std::filesystem::exists(marker);
  bool resumable = !shared_before && std::filesystem::exists(resume);
  if (complete || resumable) return static_cast<bool>(impl_->add(rec, false, !complete));
  // Some of its files are shared in place: seed those (and fetch nothing).
  if (!in_place.empty()) return static_cast<bool>(impl_->add(rec, false, true, &in_place));
  if (shared_before) {
    std::error_code ec;
    std::filesystem::remove(resume, ec);
    std::filesystem::remove(marker, ec);
  }
  return false;
}

std::size_t TorrentService::refresh_in_place() {
  struct Again {
    p::RecordId release;
    std::vector<std::string> fetching;  // files it was still fetching
    std::vector<std::string> peers;     // the peers that fetch was told of
  };
  std::vector<Again> again;
  for (auto it = impl_->torrents.begin(); it != impl_->torrents.end();) {
    bool changed = false, gained = false;
    for (const auto& slot : it->second.slots) {
      if (slot.in_place) {
        auto where = impl_->store.locate(slot.sha256);
        changed = changed || !where || where->path != slot.path;
      } else if (!slot.stored && !slot.verifying && !slot.moving) {
        // Shared since the torrent was added: read it from where it is.
        auto where = impl_->store.locate(slot.sha256);
        gained = gained || (where && where->in_place);
      }
    }
    // A fetch under way finishes as it is (the file then enters the store
    // too): taking it out for a file shared meanwhile is not worth it.
    bool fetching = std::any_of(it->second.slots.begin(), it->second.slots.end(),
                                [](const Slot& s) { return s.wanted && !s.stored && !s.in_place; });
    if (!changed && (!gained || fetching)) {
      ++it;
      continue;
    }
    if (changed)
      impl_->console.info("stopped seeding " + it->second.name + " (release " + it->second.release_hex.substr(0, 12) +
                          "): a file shared in place changed, moved or was deleted");
    Again a{it->second.release, {}, {}};
    for (const auto& slot : it->second.slots)
      if (slot.wanted && !slot.stored && !slot.in_place) a.fetching.push_back(slot.name);
    for (const auto& hint : it->second.hints)
      a.peers.push_back(p::util::host_port_text(hint.address().to_string(), hint.port()));
    again.push_back(std::move(a));
    auto next = std::next(it);
    // A fetch keeps what it downloaded (libtorrent checks it again) and the
    // peers it was told of.
    impl_->remove(it, /*forget=*/!fetching);
    it = next;
  }
  for (const auto& a : again) {
    auto rec = impl_->index.get(a.release);
    if (!rec) continue;
    seed(*rec);  // what still holds (another copy, the other files)
    if (!a.fetching.empty()) (void)fetch_files(*rec, a.fetching, a.peers);
  }
  return again.size();
}

std::size_t TorrentService::seed_shared() {
  std::size_t added = 0;
  std::set<p::RecordId> seen;
  for (const auto& f : impl_->store.shared_files()) {
    auto matches = impl_->index.find_by_hash("sha256:" + p::to_hex(f.sha256), 64);
    if (!matches) continue;
    for (const auto& m : *matches) {
      if (m.file == indexer::kReleaseLevel || (m.file & indexer::kImageFlag) || !seen.insert(m.release).second)
        continue;
      if (auto rec = impl_->index.get(m.release)) added += seed(*rec) ? 1 : 0;
    }
  }
  return added;
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
    auto next = std::next(it);
    impl_->remove(it);
    it = next;
    ++removed;
  }
  return removed;
}

void TorrentService::Impl::remove(std::map<std::string, Managed>::iterator it, bool forget) {
  if (auto c = compat.find(it->first); c != compat.end()) {
    if (c->second.handle.is_valid()) session->remove_torrent(c->second.handle);
    compat.erase(c);
  }
  if (it->second.handle.is_valid()) session->remove_torrent(it->second.handle);
  std::error_code ec;
  std::filesystem::remove(resume_dir() / (it->first + ".resume"), ec);  // not resumed after a restart
  std::filesystem::remove(resume_dir() / (it->first + ".inplace"), ec);
  if (forget) {
    std::filesystem::remove(resume_dir() / (it->first + ".peers"), ec);
    // Its partial data goes too, unless a file is being verified into the
    // store right now (then it is left for a later fetch to reuse).
    bool busy = false;
    for (const auto& slot : it->second.slots) busy = busy || slot.verifying || slot.moving;
    if (!busy) std::filesystem::remove_all(partial_dir(it->second.info_hash), ec);
  }
  torrents.erase(it);
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
    bool changed = false;
    for (const auto& peer : peers) {
      auto hp = p::util::parse_host_port(peer);
      if (!hp) continue;
      lt::error_code ec;
      auto addr = lt::make_address(hp->host, ec);
      if (ec) continue;
      lt::tcp::endpoint endpoint(addr, hp->port);
      if (impl_->own->is_own(endpoint)) continue;  // gossip lists this node among the seeders
      if (std::find(m.hints.begin(), m.hints.end(), endpoint) == m.hints.end() && m.hints.size() < Impl::kMaxHints) {
        m.hints.push_back(endpoint);
        changed = true;
      }
      m.handle.connect_peer(endpoint);
    }
    if (changed && !Impl::all_stored(m)) {  // kept for a restart (see params_for)
      std::string text;
      for (const auto& h : m.hints) text += p::util::host_port_text(h.address().to_string(), h.port()) + "\n";
      (void)write_file_atomically(impl_->resume_dir() / (ih + ".peers"), text);
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
  if (impl_->verifier.take_progress()) impl_->keep_hashing();
  impl_->start_renames();
  impl_->look_for_peers();
  // Downloads save their progress every 10 s, so a crash loses at most that.
  auto now = std::chrono::steady_clock::now();
  if (now - impl_->last_stats >= std::chrono::seconds(1)) {
    impl_->last_stats = now;
    impl_->session->post_session_stats();
  }
  // The DHT's routing table, so a restart after a crash needs no router.
  if (dht_enabled_ && now - impl_->last_state_save >= std::chrono::minutes(2)) {
    impl_->last_state_save = now;
    impl_->save_session_state();
  }
  if (now - impl_->last_resume_save > std::chrono::seconds(10)) {
    impl_->last_resume_save = now;
    for (auto& [ih, m] : impl_->torrents)
      if (!Impl::all_stored(m)) m.handle.save_resume_data(lt::torrent_handle::only_if_modified);
  }
}

namespace {

std::string source_name(lt::peer_source_flags_t source, bool incoming) {
  if (incoming) return "incoming";
  if (source & lt::peer_info::tracker) return "tracker";
  if (source & lt::peer_info::dht) return "dht";
  if (source & lt::peer_info::pex) return "pex";
  if (source & lt::peer_info::lsd) return "lsd";
  return "seedbank";  // connect_peer: gossip's seeder lists, --peer
}

// Connected peers of `handle`, and (from `received`) those that sent
// pieces before.
void list_peers(const lt::torrent_handle& handle, const std::map<lt::tcp::endpoint, std::uint64_t>& received,
                std::vector<PeerStatus>& out) {
  std::vector<lt::peer_info> peers;
  handle.get_peer_info(peers);
  for (const auto& pi : peers) {
    PeerStatus ps;
    ps.endpoint = p::util::host_port_text(pi.ip.address().to_string(), pi.ip.port());
    ps.client = pi.client;
    const bool incoming = !(pi.flags & lt::peer_info::local_connection);  // local_connection: we dialled it
    ps.source = source_name(pi.source, incoming);
    ps.connected = true;
    ps.seed = static_cast<bool>(pi.flags & lt::peer_info::seed);
    ps.progress = static_cast<double>(pi.progress);
    ps.download_rate = static_cast<std::uint64_t>(std::max(0, pi.payload_down_speed));
    ps.upload_rate = static_cast<std::uint64_t>(std::max(0, pi.payload_up_speed));
    ps.sent = static_cast<std::uint64_t>(std::max<std::int64_t>(0, pi.total_upload));
    if (auto it = received.find(pi.ip); it != received.end()) ps.received = it->second;
    bool listed = false;
    for (auto& known : out)
      if (known.endpoint == ps.endpoint) {  // in the hybrid and the v1-compat swarm: one peer
        known.download_rate += ps.download_rate;
        known.upload_rate += ps.upload_rate;
        known.sent += ps.sent;
        listed = true;
      }
    if (!listed) out.push_back(std::move(ps));
  }
}

}  // namespace

std::vector<TorrentStatus> TorrentService::status(bool with_peers) {
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
    s.uploaded = static_cast<std::uint64_t>(st.total_payload_upload);
    s.peers = st.num_peers;
    if (!Impl::all_stored(m) || with_peers) impl_->sample_senders(m);
    std::map<lt::tcp::endpoint, std::uint64_t> by_endpoint;  // every connection from one address:port
    for (const auto& [connection, bytes] : m.received) by_endpoint[connection.first] += bytes;
    s.peers_sent = static_cast<int>(by_endpoint.size());
    if (with_peers) list_peers(m.handle, by_endpoint, s.peer_list);
    if (auto c = impl_->compat.find(ih); c != impl_->compat.end()) {
      auto cs = c->second.handle.status();
      s.peers += cs.num_peers;
      s.download_rate += static_cast<std::uint64_t>(cs.download_payload_rate);
      s.upload_rate += static_cast<std::uint64_t>(cs.upload_payload_rate);
      s.downloaded += static_cast<std::uint64_t>(cs.total_payload_download);
      s.uploaded += static_cast<std::uint64_t>(cs.total_payload_upload);
      if (with_peers) list_peers(c->second.handle, by_endpoint, s.peer_list);
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
      s.files_in_place += slot.in_place;
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
    if (with_peers)
      for (const auto& [endpoint, bytes] : by_endpoint) {
        auto text = p::util::host_port_text(endpoint.address().to_string(), endpoint.port());
        if (std::none_of(s.peer_list.begin(), s.peer_list.end(),
                         [&](const PeerStatus& ps) { return ps.endpoint == text; }))
          s.peer_list.push_back({text, "", "", false, false, 0, 0, 0, bytes, 0});
      }
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
                                                                          const std::string& file_name,
                                                                          std::uint64_t from) {
  for (auto& [ih, m] : impl_->torrents) {
    if (m.release_hex != release_hex) continue;
    for (const auto& slot : m.slots) {
      if (slot.name != file_name) continue;
      FileProgress out;
      out.size = slot.size;
      if (slot.stored) {
        if (slot.in_place) {  // still the file that was hashed?
          auto where = impl_->store.locate(slot.sha256);
          if (!where || where->path != slot.path) {
            out.error = slot.path.string() + ": the shared file changed since it was hashed; it is no longer served";
            return out;
          }
        }
        out.path = slot.path;
        out.ready = out.have = slot.size;
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
      lt::torrent_handle* compat = impl_->fallback_of(m);
      if (compat) fallback = compat->status(lt::torrent_handle::query_pieces).pieces;
      auto has = [&](int piece) {
        lt::piece_index_t at(piece);
        return (piece < st.pieces.size() && st.pieces.get_bit(at)) || (piece < fallback.size() && fallback.get_bit(at));
      };
      int here = 0;
      for (int i = 0; i < pieces; ++i) here += has(first + i) ? 1 : 0;
      out.have = std::min<std::uint64_t>(slot.size, static_cast<std::uint64_t>(here) * m.piece_size);
      auto at = static_cast<int>(std::min<std::uint64_t>(from, slot.size) / m.piece_size);
      int run = 0;
      while (at + run < pieces && has(first + at + run)) ++run;
      out.ready = std::min<std::uint64_t>(slot.size, static_cast<std::uint64_t>(at + run) * m.piece_size);
      // The next pieces this reader needs, by deadline, each asked for once
      // (asking again would move its deadline and hide that it is late).
      // Pieces held for the v1-compat fallback are its to fetch. While it
      // downloads, the pieces are asked for there too: plain v1 peers may
      // be all there is.
      // 16 MiB ahead (at least 4 pieces): the reader asks again only once
      // it has read all it was told it can, so the pieces after must
      // already be on their way by then.
      constexpr std::uint64_t kStreamAheadBytes = 16u << 20;
      const int stream_ahead = static_cast<int>(std::max<std::uint64_t>(4, kStreamAheadBytes / m.piece_size));
      for (int i = at + run, k = 0; i < pieces && i < at + run + stream_ahead; ++i, ++k) {
        auto piece = static_cast<std::size_t>(first + i);
        lt::piece_index_t index(first + i);
        if (!slot.wanted || slot.failed || !m.error.empty()) break;  // not being fetched: no piece may be forced
        if (has(first + i) || m.held.count(index) || !m.deadlines.insert(piece).second) continue;
        m.handle.set_piece_deadline(index, kDeadlineStepMs * (k + 1));
        if (compat) compat->set_piece_deadline(index, kDeadlineStepMs * (k + 1));
      }
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
  impl_->save_session_state();
}

void TorrentService::Impl::save_session_state() {
  auto state = lt::write_session_params_buf(session->session_state(lt::session::save_dht_state));
  (void)write_atomically(options.data_dir / "session.state", state);  // a failure costs only the routing table
}

namespace {

lt::sha1_hash to_lt(const p::Sha1Digest& key) { return lt::sha1_hash(reinterpret_cast<const char*>(key.data())); }

}  // namespace

void TorrentService::dht_announce(const p::Sha1Digest& key, std::uint16_t port) {
  if (dht_enabled_) impl_->session->dht_announce(to_lt(key), port);
}

void TorrentService::dht_lookup(const p::Sha1Digest& key) {
  if (dht_enabled_) impl_->session->dht_get_peers(to_lt(key));
}

void TorrentService::set_dht_peers_handler(DhtPeersHandler handler) { impl_->dht_peers_handler = std::move(handler); }

TorrentService::NetworkStats TorrentService::network_stats() const { return impl_->network_stats; }

void TorrentService::map_port(std::uint16_t local_port) {
  if (!impl_->options.port_mapping) return;
  for (auto m : impl_->session->add_port_mapping(lt::portmap_protocol::tcp, local_port, local_port))
    impl_->mapped_ports[static_cast<int>(m)] = local_port;
}

std::vector<TorrentService::PortMapping> TorrentService::port_mappings() const { return impl_->port_mappings; }

void TorrentService::Impl::port_mapped(int mapping, std::uint16_t external_port, const std::string& method,
                                       const std::string& error) {
  auto it = mapped_ports.find(mapping);
  std::uint16_t local = it != mapped_ports.end() ? it->second : p::util::port_of(listen_address);
  std::string what = it != mapped_ports.end() ? "gossip" : "BitTorrent";
  for (const auto& m : port_mappings)
    if (m.local_port == local && m.method == method && m.external_port == external_port && m.error == error) return;
  port_mappings.push_back({local, external_port, method, error});
  if (error.empty())
    console.info("the router forwards " + what + " port " + std::to_string(external_port) + " to this node (" + method +
                 "): reachable from outside");
  else
    console.info("the router did not forward " + what + " port " + std::to_string(local) + " (" + method + ": " +
                 error + ")");
}

}  // namespace seedbank::node
