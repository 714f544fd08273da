#include "torrent_spread.h"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bitfield.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace seedbank::node {
namespace {

// Offers a peer has not asked for yet, per peer: about two seconds of
// pieces for a peer that gets a quarter of a seed's upload, and never
// enough to decide the order a fast lone downloader fetches in.
constexpr std::size_t kPerPeer = 4;
// An offer the peer has not asked for in this long goes back to the pool
// (it may be fetching what it already asked others for). A piece it asked
// for stays its own until it has it, for at most kAskedFor (a 16 MiB
// piece at 256 KiB/s takes 64 s).
constexpr auto kStale = std::chrono::seconds(10);
constexpr auto kAskedFor = std::chrono::seconds(120);
// Upload held for the peer nearest the end: only for peers at least this
// share of the torrent behind this node (and the favoured peer at least as
// far ahead of the next), so peers that started together keep trading.
constexpr int kMarginShare = 16;  // 1/16 of the pieces, at least 4
// The favour lapses when, over kSlowTicks seconds, the favoured peers took
// less than kKeptShare of what this node uploaded a second over the
// kBefore seconds before the favour began (they cannot take it all, or do
// not ask), or nothing at all; it is not tried again for kPause seconds.
constexpr double kKeptShare = 0.5;
constexpr std::size_t kBefore = 5;
constexpr std::size_t kSlowTicks = 3;
constexpr int kPause = 20;
// No favour while this node uploaded less than this a second before it
// (nothing to judge the favoured peer by).
constexpr double kLeastBefore = 16 * 1024;
// A peer is held back for at most this long a connection: one that wants
// only a few pieces (an images-only fetch, a streaming reader) looks far
// behind for ever, and must not wait for a whole chain to pass.
constexpr int kHoldSeconds = 30;
constexpr std::uint8_t kSuggestPiece = 13;  // BEP 6 message id
constexpr std::uint8_t kFastBit = 0x04;     // BEP 6: reserved byte 7

// What one downloading peer holds, wants and was sent.
struct Holding {
  std::vector<bool> has;
  int count = 0;
  int lacked = -1;        // pieces it lacked when it said what it has
  bool wants = false;     // interested in what this node has
  std::int64_t sent = 0;  // payload bytes this node sent it
};

// What the torrent's downloading peers hold and have been offered. Every
// call comes on libtorrent's network thread: no lock.
class Crowd {
 public:
  Crowd(int pieces, int piece_bytes, const lt::bitfield& have)
      : holders_(static_cast<std::size_t>(pieces), 0),
        offered_(static_cast<std::size_t>(pieces), 0),
        own_(static_cast<std::size_t>(pieces), false),
        free_(pieces),
        piece_bytes_(piece_bytes),
        margin_(std::max(4, pieces / kMarginShare)),
        rng_(std::random_device{}()) {
    for (int p = 0; p < std::min(pieces, have.size()); ++p)
      if (have.get_bit(p)) passed(p);
  }

  int pieces() const { return static_cast<int>(holders_.size()); }
  // This node has every piece (libtorrent says it is seeding: a shared
  // file that failed its check at start is not offered).
  bool whole = false;
  void join(const Holding* h) { members_.push_back(h); }
  void leave(const Holding* h) {
    members_.erase(std::remove(members_.begin(), members_.end(), h), members_.end());
    if (favoured_ == h) {
      favoured_ = nullptr;
      took_.clear();  // what it took says nothing of the next one
      left_ = true;   // nor does this second's upload of what came before
    }
  }
  // This node has piece `p` (it passed its hash check).
  void passed(int p) {
    auto i = static_cast<std::size_t>(p);
    if (p < 0 || p >= pieces() || own_[i]) return;
    own_[i] = true;
    ++mine_;
  }
  void sent(std::int64_t bytes) { sent_ += bytes; }

  // Once a second: which peer this node's upload is held for. A piece
  // goes furthest when it reaches the peer nearest the end first: that one
  // finishes and seeds, and passes what it gets on. So among the peers
  // that want something and are well behind this node, the one nearest the
  // end is favoured when it is well ahead of the next: the others behind
  // it are choked (the seed feeds the first of a staggered crowd, which
  // feeds the second, and so on). Peers that started together are close
  // and nobody is favoured. A peer is favoured only until this node has
  // sent it what it lacked (a peer that lies about what it has cannot take
  // every upload for long), the favour lapses while the favoured peer
  // cannot take this node's upload, and no peer is held back for more
  // than kHoldSeconds a connection.
  void choose() {
    const std::int64_t second_bytes = std::exchange(sent_, 0);
    if (favoured_) {
      took_.push_back(favoured_->sent - favoured_mark_);
      if (took_.size() > kSlowTicks) took_.pop_front();
      auto took = std::accumulate(took_.begin(), took_.end(), std::int64_t{0});
      if (took_.size() == kSlowTicks &&
          (took == 0 || static_cast<double>(took) < kKeptShare * static_cast<double>(kSlowTicks) * before_))
        pause_ = kPause;
    } else if (!std::exchange(left_, false)) {
      recent_.push_back(second_bytes);
      if (recent_.size() > kBefore) recent_.pop_front();
    }
    const Holding* was = favoured_;
    favoured_ = nullptr;
    if (pause_ > 0) {
      --pause_;
      took_.clear();
      return;
    }
    const Holding *first = nullptr, *second = nullptr;
    for (const Holding* m : members_) {
      if (!behind(*m) || !m->wants ||
          m->sent > (static_cast<std::int64_t>(m->lacked) + 2) * static_cast<std::int64_t>(piece_bytes_))
        continue;
      if (!first || m->count > first->count) {
        second = first;
        first = m;
      } else if (!second || m->count > second->count) {
        second = m;
      }
    }
    if (!first || !second || first->count < second->count + margin_) {
      took_.clear();
      return;
    }
    if (!was) {  // what this node uploaded a second before the favour began
      if (recent_.size() < kBefore) return;
      before_ = static_cast<double>(std::accumulate(recent_.begin(), recent_.end(), std::int64_t{0})) /
                static_cast<double>(recent_.size());
      if (before_ < kLeastBefore) return;
    }
    if (first != was) took_.clear();  // the next peer of a chain: judged on its own
    favoured_ = first;
    favoured_mark_ = first->sent;
  }
  // Whether this node chokes `h` to hold its upload for the favoured peer:
  // a peer well behind this node and behind the favoured one.
  bool holds_back(const Holding& h) const {
    return favoured_ && &h != favoured_ && h.count < favoured_->count && behind(h);
  }
  // A downloading peer gained (+1) or lost (-1) piece `p`.
  void hold(int p, int delta) { change(holders_, p, delta); }
  void offer(int p, int delta) { change(offered_, p, delta); }
  // The piece to offer `peer`, or -1: one no downloader holds and nobody
  // was offered; when there is none left, one that fewest downloaders hold,
  // among those the downloader nearest the end lacks if there are any (it
  // gets the pieces it lacks from whoever has them, and the newcomers can
  // take what it has from it). Never one offered to someone else.
  int pick(const Holding& peer) {
    const int n = pieces();
    const int start = static_cast<int>(rng_() % static_cast<unsigned>(n));
    if (free_ > 0)
      for (int k = 0; k < n; ++k) {
        auto i = static_cast<std::size_t>((start + k) % n);
        if (holders_[i] == 0 && offered_[i] == 0 && !peer.has[i]) return static_cast<int>(i);
      }
    const Holding* leader = nullptr;
    for (const Holding* m : members_)
      if (m != &peer && m->count < n && (!leader || m->count > leader->count)) leader = m;
    int best = -1;
    long best_score = 0;
    for (int k = 0; k < n; ++k) {
      auto i = static_cast<std::size_t>((start + k) % n);
      if (peer.has[i] || offered_[i] > 0) continue;
      long score = 2L * holders_[i] + (leader && leader->has[i] ? 1 : 0);
      if (best < 0 || score < best_score) {
        best = static_cast<int>(i);
        best_score = score;
      }
    }
    return best;
  }

 private:
  // `h` is a downloader at least the margin behind this node.
  bool behind(const Holding& h) const {
    return h.lacked >= 0 && h.count < pieces() && h.count + margin_ <= (whole ? pieces() : mine_);
  }
  void change(std::vector<int>& counts, int p, int delta) {
    auto i = static_cast<std::size_t>(p);
    bool was_free = holders_[i] == 0 && offered_[i] == 0;
    counts[i] = std::max(0, counts[i] + delta);
    bool is_free = holders_[i] == 0 && offered_[i] == 0;
    free_ += static_cast<int>(is_free) - static_cast<int>(was_free);
  }

  std::vector<int> holders_, offered_;
  std::vector<bool> own_;
  int free_;  // pieces with neither
  int piece_bytes_, margin_;
  int mine_ = 0;  // pieces this node has
  std::vector<const Holding*> members_;
  const Holding* favoured_ = nullptr;
  std::int64_t sent_ = 0;            // payload bytes sent since the last choose()
  std::deque<std::int64_t> recent_;  // bytes sent in each of the last seconds without a favour
  double before_ = 0;                // bytes a second sent before the favour began
  std::int64_t favoured_mark_ = 0;   // favoured_->sent at the last choose()
  std::deque<std::int64_t> took_;    // bytes the favoured peers took in each of the last seconds
  int pause_ = 0;                    // seconds until a favour is tried again
  bool left_ = false;                // the favoured peer left this second
  std::minstd_rand rng_;
};

class PeerSide final : public lt::peer_plugin {
 public:
  PeerSide(lt::peer_connection_handle peer, std::shared_ptr<Crowd> crowd)
      : peer_(std::move(peer)), crowd_(std::move(crowd)) {
    held_.has.assign(static_cast<std::size_t>(crowd_->pieces()), false);
    crowd_->join(&held_);
  }
  PeerSide(const PeerSide&) = delete;
  PeerSide& operator=(const PeerSide&) = delete;
  ~PeerSide() override { leave(); }

  bool on_handshake(lt::span<char const> reserved) override {
    fast_ = reserved.size() >= 8 && (static_cast<std::uint8_t>(reserved[7]) & kFastBit) != 0;
    return true;
  }
  bool on_bitfield(const lt::bitfield& bits) override {
    if (gone_) return false;
    if (bits.all_set()) {
      leave();  // another seed: it downloads nothing
      return false;
    }
    for (int p = 0; p < std::min(bits.size(), crowd_->pieces()); ++p)
      if (bits.get_bit(p)) gained(p);
    said();
    fill();
    return false;
  }
  bool on_have_all() override {
    leave();
    return false;
  }
  bool on_have_none() override {
    said();
    fill();
    return false;
  }
  bool on_have(lt::piece_index_t piece) override {
    int p = static_cast<int>(piece);
    if (p < 0 || p >= crowd_->pieces() || gone_) return false;
    gained(p);
    said();
    withdraw([p](const Offer& o) { return o.piece == p; });
    fill();
    return false;
  }
  bool on_dont_have(lt::piece_index_t piece) override {
    int p = static_cast<int>(piece);
    auto i = static_cast<std::size_t>(p);
    if (p < 0 || p >= crowd_->pieces() || gone_ || !held_.has[i]) return false;
    lost(p);
    return false;
  }
  bool on_interested() override {
    fill(true);  // libtorrent marks the peer interested after this call
    return false;
  }
  bool on_not_interested() override {
    withdraw([](const Offer& o) { return !o.asked; });
    return false;
  }
  // A choked peer asks for nothing, and its requests were rejected.
  void sent_choke() override {
    withdraw([](const Offer&) { return true; });
  }
  void sent_unchoke() override { fill(); }
  // A piece the peer asks for is its own while it downloads it, offered or
  // not (rarest-first picks, runs around an offer), so no one else is
  // offered it meanwhile.
  bool on_request(const lt::peer_request& r) override {
    int p = static_cast<int>(r.piece);
    // (A choked peer's requests are rejected: libtorrent calls this first.)
    if (p < 0 || p >= crowd_->pieces() || gone_ || held_.has[static_cast<std::size_t>(p)] || peer_.is_choked())
      return false;
    auto it = std::find_if(offers_.begin(), offers_.end(), [p](const Offer& o) { return o.piece == p; });
    if (it == offers_.end()) it = reserve(p);
    it->at = std::chrono::steady_clock::now();  // asked-for pieces expire kAskedFor after the last request
    idle_ = false;
    if (!it->asked) {
      it->asked = true;
      fill();
    }
    return false;
  }
  // Offers left unasked expire; a peer that let them (it fetches only
  // some files, or takes pieces from others) is offered nothing more until
  // it asks this node for a piece.
  void tick() override {
    held_.wants = !gone_ && peer_.is_peer_interested();
    if (!gone_ && held_seconds_ < kHoldSeconds && crowd_->holds_back(held_)) {
      ++held_seconds_;
      if (!peer_.is_choked() && !peer_.is_disconnecting()) {
        // (No numbers: libtorrent 2.0.8's handle passes its va_list on as
        // one more argument, so formatted values come out as garbage.)
        if (peer_.should_log(lt::peer_log_alert::info))
          peer_.peer_log(lt::peer_log_alert::info, "HOLD_BACK", "choked: upload held for a peer nearer the end");
        peer_.choke_this_peer();
      }
      held_back_ = true;
    } else if (held_back_) {  // libtorrent's choker decides again
      held_back_ = false;
      if (peer_.should_log(lt::peer_log_alert::info)) peer_.peer_log(lt::peer_log_alert::info, "HOLD_BACK", "released");
      if (peer_.is_choked() && peer_.is_peer_interested()) peer_.maybe_unchoke_this_peer();
    }
    auto now = std::chrono::steady_clock::now();
    withdraw([&](const Offer& o) {
      bool expired = now - o.at > (o.asked ? kAskedFor : kStale);
      if (expired && !o.asked) idle_ = true;
      return expired;
    });
    fill();
  }
  void sent_payload(int bytes) override {
    held_.sent += bytes;
    crowd_->sent(bytes);
  }
  void on_disconnect(const lt::error_code&) override { leave(); }

 private:
  struct Offer {
    int piece;
    std::chrono::steady_clock::time_point at;
    bool asked;  // the peer asked for it
  };

  void gained(int p) {
    auto i = static_cast<std::size_t>(p);
    if (held_.has[i]) return;
    held_.has[i] = true;
    ++held_.count;
    crowd_->hold(p, +1);
  }
  // The peer said what it has (a bitfield, HAVE_NONE or a first HAVE).
  void said() {
    known_ = true;
    if (held_.lacked < 0) held_.lacked = crowd_->pieces() - held_.count;
  }
  void lost(int p) {
    held_.has[static_cast<std::size_t>(p)] = false;
    --held_.count;
    crowd_->hold(p, -1);
  }
  // Piece `p` becomes this peer's offer: nobody else is offered it.
  std::vector<Offer>::iterator reserve(int p) {
    crowd_->offer(p, +1);
    offers_.push_back({p, std::chrono::steady_clock::now(), false});
    return std::prev(offers_.end());
  }
  // Another seed, or a closed connection: no longer one of the crowd.
  void leave() {
    if (gone_) return;
    gone_ = true;
    withdraw([](const Offer&) { return true; });
    for (std::size_t i = 0; i < held_.has.size(); ++i)
      if (held_.has[i]) crowd_->hold(static_cast<int>(i), -1);
    crowd_->leave(&held_);
  }
  template <typename Pred>
  void withdraw(Pred pred) {
    auto it = std::remove_if(offers_.begin(), offers_.end(), [&](const Offer& o) {
      if (!pred(o)) return false;
      crowd_->offer(o.piece, -1);
      return true;
    });
    offers_.erase(it, offers_.end());
  }
  // Offers until kPerPeer are not asked for yet: only to a peer that takes
  // suggestions (the fast extension), has said what it has, and wants
  // something from this node.
  void fill(bool interested = false) {
    if (!crowd_->whole || !fast_ || !known_ || gone_ || idle_ || peer_.is_disconnecting() || peer_.is_choked() ||
        !(interested || peer_.is_peer_interested()))
      return;
    auto open = static_cast<std::size_t>(
        std::count_if(offers_.begin(), offers_.end(), [](const Offer& o) { return !o.asked; }));
    for (; open < kPerPeer; ++open) {
      int p = crowd_->pick(held_);
      if (p < 0) return;
      reserve(p);
      auto index = static_cast<std::uint32_t>(p);
      std::array<char, 9> message{0,
                                  0,
                                  0,
                                  5,
                                  static_cast<char>(kSuggestPiece),
                                  static_cast<char>(index >> 24),
                                  static_cast<char>(index >> 16),
                                  static_cast<char>(index >> 8),
                                  static_cast<char>(index)};
      peer_.send_buffer(message.data(), static_cast<int>(message.size()));
    }
  }

  lt::peer_connection_handle peer_;
  std::shared_ptr<Crowd> crowd_;
  Holding held_;
  std::vector<Offer> offers_;
  bool fast_ = false, known_ = false, gone_ = false, idle_ = false;
  bool held_back_ = false;  // choked by this plugin
  int held_seconds_ = 0;    // how long it was, on this connection
};

class TorrentSide final : public lt::torrent_plugin {
 public:
  TorrentSide(int pieces, int piece_bytes, const lt::bitfield& have)
      : crowd_(std::make_shared<Crowd>(pieces, piece_bytes, have)) {}
  void on_state(lt::torrent_status::state_t state) override { crowd_->whole = state == lt::torrent_status::seeding; }
  void on_piece_pass(lt::piece_index_t piece) override { crowd_->passed(static_cast<int>(piece)); }
  void tick() override { crowd_->choose(); }
  std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& peer) override {
    if (peer.type() != lt::connection_type::bittorrent) return nullptr;
    return std::make_shared<PeerSide>(peer, crowd_);
  }

 private:
  std::shared_ptr<Crowd> crowd_;
};

}  // namespace

void spread_pieces(lt::add_torrent_params& atp) {
  if (!atp.ti || atp.ti->num_pieces() <= 0 || atp.ti->piece_length() <= 0) return;
  int pieces = atp.ti->num_pieces(), piece_bytes = atp.ti->piece_length();
  lt::bitfield have = atp.have_pieces;
  atp.extensions.emplace_back(
      [pieces, piece_bytes, have](const lt::torrent_handle&, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
        return std::make_shared<TorrentSide>(pieces, piece_bytes, have);
      });
}

}  // namespace seedbank::node
