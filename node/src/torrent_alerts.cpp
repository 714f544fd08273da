// TorrentService::Impl: the v1-compat torrents, libtorrent's alerts, the
// SHA-256 verification of fetched files and their renames into the store.
#include "torrents_impl.h"

namespace seedbank::node {

// Adds the release's v1-compat torrent over the same files: the store's
// when seeding, the hybrid's partial files when downloading.
void TorrentService::Impl::add_compat(Managed& m, bool seeding) {
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
  auto ti = std::make_shared<lt::torrent_info>(lt::span<char const>(whole.data(), static_cast<long>(whole.size())), ec,
                                               lt::from_span);
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
void TorrentService::Impl::look_for_peers() {
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
lt::torrent_handle* TorrentService::Impl::fallback_of(const Managed& m) {
  auto c = compat.find(m.info_hash);
  return c == compat.end() || c->second.seeding || !c->second.handle.is_valid() ? nullptr : &c->second.handle;
}

// The fetch a downloading v1-compat fallback torrent works for, if `h` is one.
Managed* TorrentService::Impl::fetched_through(const lt::torrent_handle& h) {
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
void TorrentService::Impl::keep_apart(Managed& m) {
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
void TorrentService::Impl::compat_finished(const lt::torrent_handle& h) {
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
void TorrentService::Impl::checked(Managed& m) {
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

Managed* TorrentService::Impl::find(const lt::torrent_handle& h) {
  auto ih = h.info_hashes();
  if (!ih.has_v2()) return nullptr;
  auto it = torrents.find(hex_of(ih.v2));
  return it == torrents.end() ? nullptr : &it->second;
}

std::pair<std::size_t, std::size_t> TorrentService::Impl::piece_range(const Managed& m, const Slot& s) const {
  return {static_cast<std::size_t>(s.offset / m.piece_size),
          static_cast<std::size_t>((s.offset + s.size + m.piece_size - 1) / m.piece_size)};
}

void TorrentService::Impl::request(Managed& m, std::size_t piece) {
  if (piece >= m.requested.size() || m.requested[piece]) return;
  m.requested[piece] = true;
  m.handle.read_piece(lt::piece_index_t(static_cast<int>(piece)));
}

// Hands the verifier the bytes that follow, without a gap, what it had;
// finishes the digest once the whole file is queued and complete.
void TorrentService::Impl::advance(Managed& m, std::size_t i) {
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
    verifier.push({m.info_hash, i, it->second.first, static_cast<std::size_t>(start), static_cast<std::size_t>(length),
                   false, s.stream});
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
void TorrentService::Impl::complete(Managed& m, std::size_t i) {
  Slot& s = m.slots[i];
  if (s.stored || s.verifying || s.moving || s.failed || s.complete_seen) return;
  s.complete_seen = true;
  request_window(m, s);
  advance(m, i);
}

// Reads back at most kReadAhead pieces beyond what the verifier has, so
// a file found complete at once (a recheck) is not held in memory whole.
void TorrentService::Impl::request_window(Managed& m, const Slot& s) {
  auto [first, end] = piece_range(m, s);
  auto from = static_cast<std::size_t>((s.offset + s.queued) / m.piece_size);
  for (auto piece = std::max(first, from); piece < end && piece < from + kReadAhead; ++piece) request(m, piece);
}

void TorrentService::Impl::finish_verifications() {
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
      console.warn(m.error);
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
void TorrentService::Impl::start_renames() {
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
std::uint64_t TorrentService::Impl::bytes_missing(const lt::torrent_status& st) {
  auto wanted = static_cast<std::uint64_t>(st.total_wanted), done = static_cast<std::uint64_t>(st.total_wanted_done);
  return wanted > done ? wanted - done : 0;
}

// A write failed. libtorrent stops the torrent; say whether the disk is
// full (writes through a memory map report a full disk as EFAULT).
void TorrentService::Impl::storage_error(Managed& m, const lt::error_code& error, const std::string& file) {
  auto missing = bytes_missing(m.handle.status());
  auto free = free_bytes();
  if (error == boost::system::errc::no_space_on_device ||
      (error == boost::system::errc::bad_address && free < missing)) {
    m.error_kind = ErrorKind::disk_full;
    m.error = "the disk holding " + options.data_dir.string() + " is full (" + std::to_string(free) + " bytes free, " +
              std::to_string(missing) +
              " more needed); the download is paused and nothing unverified entered the store; free space and "
              "run the fetch again to continue";
  } else {
    m.error_kind = ErrorKind::io;
    m.error = (file.empty() ? std::string() : file + ": ") + error.message();
  }
}

void TorrentService::Impl::rename_done() {
  if (renames_pending > 0 && --renames_pending == 0) rename_lock.reset();
}

// --bt-log: one line per alert, flushed per batch so that the log's tail
// is current while the node runs.
void TorrentService::Impl::log_alerts(const std::vector<lt::alert*>& alerts) {
  if (!log.is_open() || alerts.empty()) return;
  for (const lt::alert* a : alerts) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - log_start);
    log << ms.count() / 1000 << '.' << std::setw(3) << std::setfill('0') << ms.count() % 1000 << ' ' << a->what()
        << ": " << a->message() << '\n';
  }
  log.flush();
}

void TorrentService::Impl::handle_alerts() {
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
        if (!m->fetch_logged && wanted_stored(*m)) {
          m->fetch_logged = true;
          console.info("fetched and verified " + m->name + " (release " + m->release_hex.substr(0, 12) + ")");
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
    } else if (auto* dp = lt::alert_cast<lt::dht_get_peers_reply_alert>(a)) {
      if (dht_peers_handler) {
        p::Sha1Digest key{};
        std::memcpy(key.data(), dp->info_hash.data(), key.size());
        std::vector<std::string> peers;
        for (const auto& ep : dp->peers())
          peers.push_back(p::util::host_port_text(ep.address().to_string(), ep.port()));
        dht_peers_handler(key, peers);
      }
    } else if (auto* ss = lt::alert_cast<lt::session_stats_alert>(a)) {
      auto counters = ss->counters();
      network_stats.dht_nodes = counters[metric_dht_nodes];
      network_stats.dht_bytes_in = static_cast<std::uint64_t>(counters[metric_dht_bytes_in]);
      network_stats.dht_bytes_out = static_cast<std::uint64_t>(counters[metric_dht_bytes_out]);
    } else if (auto* pm = lt::alert_cast<lt::portmap_alert>(a)) {
      port_mapped(static_cast<int>(pm->mapping), static_cast<std::uint16_t>(pm->external_port),
                  pm->map_transport == lt::portmap_transport::upnp ? "UPnP" : "NAT-PMP", "");
    } else if (auto* pe = lt::alert_cast<lt::portmap_error_alert>(a)) {
      port_mapped(static_cast<int>(pe->mapping), 0,
                  pe->map_transport == lt::portmap_transport::upnp ? "UPnP" : "NAT-PMP", pe->error.message());
    } else if (auto* ls = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
      if (ls->socket_type == lt::socket_type_t::tcp)
        listen_address = p::util::host_port_text(ls->address.to_string(), static_cast<std::uint16_t>(ls->port));
    }
  }
}

}  // namespace seedbank::node
