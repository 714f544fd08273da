// TorrentService::Impl: the v1-compat torrents, libtorrent's alerts, the
// SHA-256 verification of fetched files and their renames into the store.
#include "gossip/endpoint.h"
#include "torrent_spread.h"
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
    atp.renamed_files[slot.index] = slot.stored ? slot.path.string() : partial_file(m.info_hash, slot.index).string();
    if (!slot.wanted || slot.in_place)
      atp.file_priorities[static_cast<std::size_t>(static_cast<int>(slot.index))] = lt::dont_download;
  }
  atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
  if (seeding) atp.flags |= lt::torrent_flags::seed_mode;
  spread_pieces(atp);  // aria2 and Transmission take suggestions too
  auto handle = session->add_torrent(std::move(atp), ec);
  if (ec) return;
  compat[m.info_hash] = {handle, seeding};
  // A streaming reader's pieces were asked for by deadline before there
  // was a fallback: asked for here too, in the order the reader needs them.
  if (!seeding) {
    int k = 0;
    for (auto piece : m.deadlines)
      handle.set_piece_deadline(lt::piece_index_t(static_cast<int>(piece)), kDeadlineStepMs * ++k);
  }
}

// Once a second, for fetches: count what each peer sent; for fetches
// without peers, retry the --peer hints, and after a few seconds with none
// in the hybrid swarm also join the v1-compat swarm, where plain v1
// clients seed.
void TorrentService::Impl::look_for_peers() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_peer_check < std::chrono::seconds(1)) return;
  last_peer_check = now;
  for (auto& [ih, m] : torrents) {
    if (!m.error.empty()) continue;
    bool pending = std::any_of(m.slots.begin(), m.slots.end(), [](const Slot& s) { return s.wanted && !s.stored; });
    if (!pending) continue;
    sample_senders(m);
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
    else if (i < theirs.end_index() && theirs.get_bit(i)) {
      m.held.insert(i);
      m.deadlines.erase(static_cast<std::size_t>(static_cast<int>(i)));  // priority 0 drops a deadline
    }
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
          return s.wanted && !s.in_place && piece >= first && piece < end;  // never into a shared file
        });
        back.emplace_back(i, wanted ? lt::default_priority : lt::dont_download);
      }
      m->second.held.clear();
      if (!back.empty()) m->second.handle.prioritize_pieces(back);
      // Nothing is read back until the recheck says what is there (checked()).
      std::fill(m->second.have.begin(), m->second.have.end(), false);
      m->second.handle.force_recheck();
    }
    return;
  }
}

// After a recheck, files found complete raise no completion alerts.
void TorrentService::Impl::checked(Managed& m) {
  catch_up(m, m.handle.status(lt::torrent_handle::query_pieces).pieces);
  // Saved again once checked, so the resume data lists what the check
  // found (the save made when the fetch began came before it).
  if (!all_stored(m)) m.handle.save_resume_data(lt::torrent_handle::save_info_dict);
}

// Takes `pieces`, what libtorrent says the torrent has (after a check, or
// when its alerts were lost): files it has whole are finished, the others
// read back from their hashed prefix on.
void TorrentService::Impl::catch_up(Managed& m, const lt::typed_bitfield<lt::piece_index_t>& pieces) {
  for (std::size_t i = 0; i < m.have.size(); ++i) {
    lt::piece_index_t at(static_cast<int>(i));
    m.have[i] = at < pieces.end_index() && pieces.get_bit(at);
  }
  std::vector<std::int64_t> progress;
  m.handle.file_progress(progress, lt::torrent_handle::piece_granularity);
  for (std::size_t i = 0; i < m.slots.size(); ++i) {
    const Slot& s = m.slots[i];
    if (!s.hashing()) continue;
    request_window(m, s);
    auto at = static_cast<std::size_t>(static_cast<int>(s.index));
    if (at < progress.size() && static_cast<std::uint64_t>(progress[at]) == s.size) complete(m, i);
  }
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

// What each connection has sent so far (for status: who sent what). A
// connection's count only grows; one that closed keeps its last sample.
void TorrentService::Impl::sample_senders(Managed& m) {
  auto sample = [&](const lt::torrent_handle& h) {
    std::vector<lt::peer_info> peers;
    h.get_peer_info(peers);
    for (const auto& pi : peers) {
      if (pi.total_download <= 0) continue;
      auto key = std::make_pair(pi.ip, pi.pid);
      auto it = m.received.find(key);
      if (it == m.received.end()) {
        if (m.received.size() >= Managed::kMaxSenders) continue;
        it = m.received.emplace(key, 0).first;
      }
      it->second = std::max(it->second, static_cast<std::uint64_t>(pi.total_download));
    }
  };
  sample(m.handle);
  if (lt::torrent_handle* fallback = fallback_of(m)) sample(*fallback);
}

// The alert queue overflowed. Alerts the fetch acts on may be lost with
// it: pieces and files finished (then pieces would never be hashed),
// pieces read back, files renamed. Asks libtorrent what the torrent has
// instead. A torrent still checking says so itself when done.
void TorrentService::Impl::resync(Managed& m, const lt::alerts_dropped_alert& dropped) {
  const auto& lost = dropped.dropped_alerts;
  if (!lost[lt::piece_finished_alert::alert_type] && !lost[lt::file_completed_alert::alert_type] &&
      !lost[lt::read_piece_alert::alert_type] && !lost[lt::file_renamed_alert::alert_type] &&
      !lost[lt::torrent_checked_alert::alert_type])
    return;
  auto st = m.handle.status(lt::torrent_handle::query_pieces);
  if (st.state == lt::torrent_status::checking_files || st.state == lt::torrent_status::checking_resume_data) return;
  for (auto& s : m.slots) {
    if (s.moving && store.contains(s.sha256)) {  // renamed; the alert was lost
      s.moving = false;
      s.stored = true;
      s.path = store.path_of(s.sha256);
      rename_done();
      continue;
    }
    if (!s.hashing()) continue;
    // Reads whose answers were lost are asked for again.
    auto end = piece_range(m, s).second;
    for (auto piece = static_cast<std::size_t>((s.offset + s.queued) / m.piece_size); piece < end; ++piece)
      if (!m.arrived.count(piece)) m.requested[piece] = false;
  }
  catch_up(m, st.pieces);
}

// The verifier hashed what it had: read back the next pieces.
void TorrentService::Impl::keep_hashing() {
  for (auto& [ih, m] : torrents)
    for (const auto& s : m.slots)
      if (s.hashing() && s.queued < s.size) request_window(m, s);
}

void TorrentService::Impl::request(Managed& m, std::size_t piece) {
  if (piece >= m.requested.size() || m.requested[piece] || !m.have[piece]) return;
  m.requested[piece] = true;
  m.handle.read_piece(lt::piece_index_t(static_cast<int>(piece)));
}

// Hands the verifier the bytes that follow, without a gap, what it had;
// finishes the digest once the whole file is queued and complete.
void TorrentService::Impl::advance(Managed& m, std::size_t i) {
  Slot& s = m.slots[i];
  if (!s.hashing()) return;
  while (s.queued < s.size) {
    std::uint64_t at = s.offset + s.queued;
    auto piece = static_cast<std::size_t>(at / m.piece_size);
    auto it = m.arrived.find(piece);
    if (it == m.arrived.end()) break;
    std::uint64_t start = at - piece * m.piece_size;
    std::uint64_t length =
        std::min<std::uint64_t>(static_cast<std::uint64_t>(it->second.second) - start, s.size - s.queued);
    verifier.push({m.info_hash, i, it->second.first, static_cast<std::size_t>(start), static_cast<std::size_t>(length),
                   false, s.stream, s.hashed});
    s.queued += length;
    m.arrived.erase(it);  // pieces never span two files (they are piece-aligned)
  }
  request_window(m, s);
  if (s.queued == s.size && s.complete_seen) {
    s.verifying = true;
    verifier.push({m.info_hash, i, {}, 0, 0, true, s.stream, s.hashed});
  }
}

// The file is complete: ask for every piece not seen yet (pieces found by
// a recheck raise no piece alerts), then finish in advance().
void TorrentService::Impl::complete(Managed& m, std::size_t i) {
  Slot& s = m.slots[i];
  if (s.stored || s.verifying || s.moving || s.failed || s.complete_seen) return;
  s.complete_seen = true;
  auto [first, end] = piece_range(m, s);
  for (auto piece = first; piece < end && piece < m.have.size(); ++piece) m.have[piece] = true;
  request_window(m, s);
  advance(m, i);
}

// Reads back the pieces that follow what the verifier has, up to
// kReadAhead: a file found complete at once (a recheck) or arriving out of
// order is never held in memory whole.
void TorrentService::Impl::request_window(Managed& m, const Slot& s) {
  auto [first, end] = piece_range(m, s);
  auto from = static_cast<std::size_t>((s.offset + s.queued) / m.piece_size);
  // At most kReadAhead pieces beyond what is hashed, so reads from a fast
  // disk never pile up in memory ahead of the hashing thread.
  auto limit = static_cast<std::size_t>((s.offset + s.hashed->load()) / m.piece_size) + kReadAhead;
  // Only the run the torrent has without a gap: a piece after a gap could
  // not be hashed before the gap fills, and waits better in the page cache
  // than in memory.
  for (auto piece = std::max(first, from); piece < end && piece < limit && m.have[piece]; ++piece) request(m, piece);
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
        if (piece < m->have.size()) m->have[piece] = true;
        for (auto& slot : m->slots) {
          auto [first, end] = piece_range(*m, slot);
          if (slot.wanted && !slot.stored && piece >= first && piece < end) request_window(*m, slot);
        }
        if (lt::torrent_handle* fallback = fallback_of(*m))
          fallback->piece_priority(pf->piece_index, lt::dont_download);  // see keep_apart
      } else if (Managed* fetch = fetched_through(pf->handle)) {
        fetch->held.insert(pf->piece_index);
        fetch->handle.piece_priority(pf->piece_index, lt::dont_download);
      }
    } else if (auto* ad = lt::alert_cast<lt::alerts_dropped_alert>(a)) {
      for (auto& [ih, m] : torrents)
        if (!all_stored(m)) resync(m, *ad);
    } else if (auto* rp = lt::alert_cast<lt::read_piece_alert>(a)) {
      if (Managed* m = find(rp->handle)) {
        auto piece = static_cast<std::size_t>(static_cast<int>(rp->piece));
        if (rp->error) {
          m->error = "cannot read back a downloaded piece: " + rp->error.message();
          if (piece < m->requested.size()) m->requested[piece] = false;  // a retry reads it again
        } else {
          m->arrived[piece] = {rp->buffer, rp->size};
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
            s.path = store.path_of(s.sha256);
          }
        if (!m->fetch_logged && wanted_stored(*m)) {
          m->fetch_logged = true;
          sample_senders(*m);
          console.info("fetched and verified " + m->name + " (release " + m->release_hex.substr(0, 12) + ")");
        }
        if (all_stored(*m) && !any_in_place(*m)) add_compat(*m, true);
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
      // Only for torrents still in the session: a save answered after the
      // torrent was removed would bring its resume data back.
      if (Managed* m = rd->params.info_hashes.has_v2() ? find(rd->handle) : nullptr; m && m->handle == rd->handle)
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
      if (ls->socket_type == lt::socket_type_t::tcp) {
        listen_address = p::util::host_port_text(ls->address.to_string(), static_cast<std::uint16_t>(ls->port));
        own->listening(ls->address, static_cast<std::uint16_t>(ls->port));
      }
    } else if (auto* ei = lt::alert_cast<lt::external_ip_alert>(a)) {
      // Our address as peers see it (behind NAT, with the same port when
      // mapped so): peers pass that on too.
      if (auto ep = gossip::parse_endpoint(listen_address, true)) own->external(ei->external_address, ep->port);
    }
  }
}

}  // namespace seedbank::node
