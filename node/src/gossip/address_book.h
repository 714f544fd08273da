// The addresses of other nodes this node knows (kept in peers.json between
// runs) and the keys and addresses it has banned. Owned by the gossip
// service; used by the transport (whom to dial, whom to refuse) and the
// engine (addresses learnt from hellos and `peers` messages). Gossip thread
// only; time comes in as arguments.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gossip/endpoint.h"
#include "gossip/sessions.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/log.h"

namespace seedbank::node::gossip {

// Where an address was first learnt: given at start (--bootstrap,
// bootstrap.txt), remembered in peers.json, found on the Mainline DHT or by
// a LAN beacon, named by a peer, learnt from a peer that dialled in, or
// added by hand (`seedbank peers --add`).
enum class Source : std::uint8_t { bootstrap, saved, dht, lan, exchange, inbound, manual };
std::string_view to_string(Source source);

struct Known {
  std::string node_id;  // sbpk1, when known
  Source source = Source::exchange;
  std::int64_t last_seen = 0;  // unix seconds of the last good session
  unsigned fails = 0;
  Clock::time_point next_try{};
  bool self = false;
};

inline constexpr std::size_t kDhtDialsPerMinute = 30;  // unproven DHT and LAN addresses
// Unproven DHT and LAN addresses held at once: a DHT node that answers
// with made-up addresses, or a LAN sender, cannot crowd out the addresses
// peers name or that worked.
inline constexpr std::size_t kMaxUnprovenDiscovered = 256;

class AddressBook {
 public:
  // `peers_file` is read by load() and written by save(); empty: neither.
  AddressBook(std::filesystem::path peers_file, std::chrono::seconds ban_time, protocol::Log log = {})
      : peers_file_(std::move(peers_file)), ban_time_(ban_time), log_(std::move(log)) {}

  // peers.json: a damaged or missing file costs only the remembered peers.
  void load();
  void save() const;

  // An address to dial at the next chance (bootstrap list, add_peer).
  void add(const std::string& host_port, Source source);
  // An address discovery found (DHT, LAN): true when it is new. Dialled
  // as candidates() allows. At most kMaxUnprovenDiscovered such addresses
  // that never worked are held: a new one replaces the one that failed
  // most.
  bool discovered(const std::string& host_port, Source source) {
    return discovered(std::vector<std::string>{host_port}, source) == 1;
  }
  // The same for several: how many were new.
  std::size_t discovered(const std::vector<std::string>& host_ports, Source source);
  std::optional<Source> source_of(const std::string& host_port) const;
  bool contains(const std::string& host_port) const { return known_.count(host_port) > 0; }
  const std::map<std::string, Known>& known() const { return known_; }
  // Learns `addr` (at most kMaxKnown addresses); `seen`: a session with it
  // just worked, at `unix_now`.
  void remember(const std::string& addr, const std::string& node_id, bool seen, std::int64_t unix_now,
                Source source = Source::exchange);
  // A dial of `addr` starts now: the next one waits longer after failures.
  void dialling(const std::string& addr, Clock::time_point now);
  // (An address forgotten meanwhile stays forgotten.)
  void failed(const std::string& addr) {
    if (auto it = known_.find(addr); it != known_.end()) ++it->second.fails;
  }
  void is_self(const std::string& addr) {
    if (auto it = known_.find(addr); it != known_.end()) it->second.self = true;
  }
  // Addresses worth dialling now: not this node, not waiting after
  // failures, not `connected`, not banned; those that worked before first,
  // each group shuffled. Addresses found on the DHT or the LAN that never
  // worked (anyone can announce anything under the rendezvous key) are held
  // to kDhtDialsPerMinute dials a minute and one per address range
  // (address_range: /16, /32 for IPv6; local networks exempt) per call,
  // so a stranger announcing many addresses cannot fill the dialler.
  std::vector<std::string> candidates(Clock::time_point now, const std::function<bool(const std::string&)>& connected,
                                      std::mt19937_64& rng);
  // Up to `n` addresses that worked, shuffled, for a peer (not `exclude`).
  std::vector<std::pair<Endpoint, std::string>> to_share(const std::string& exclude, std::size_t n,
                                                         std::mt19937_64& rng) const;

  // Bans are kept under "id:<hex key>" and "ip:<address>".
  bool banned(const std::string& key, Clock::time_point now);
  bool banned(const protocol::PublicKey& id, Clock::time_point now) {
    return banned("id:" + protocol::to_hex(id.bytes), now);
  }
  bool banned(const boost::asio::ip::address& ip, Clock::time_point now) { return banned("ip:" + ip.to_string(), now); }
  // Bans the key (when known) and, unless loopback, the address of
  // `remote`, for the ban time; logs why.
  void ban(const std::optional<protocol::PublicKey>& id, const boost::asio::ip::address& ip, const std::string& remote,
           const std::string& reason, Clock::time_point now);
  std::chrono::seconds ban_time() const { return ban_time_; }
  // Forgets expired bans and, when the book is nearly full, addresses that
  // never worked.
  void expire(Clock::time_point now);

 private:
  std::filesystem::path peers_file_;
  std::chrono::seconds ban_time_;
  protocol::Log log_;
  // Ban lines: at most kBanLinesPerWindow a window, then one line that
  // counts the rest.
  static constexpr std::size_t kBanLinesPerWindow = 10;
  static constexpr auto kBanLogWindow = std::chrono::seconds(60);
  void flush_ban_log(Clock::time_point now);
  Clock::time_point log_window_{};
  std::size_t bans_in_window_ = 0;
  static bool unproven_discovered(const Known& k) {
    return (k.source == Source::dht || k.source == Source::lan) && k.last_seen == 0;
  }
  std::deque<Clock::time_point> dht_dials_;        // dials of unproven discovered addresses in the last minute
  std::map<std::string, Known> known_;             // by host:port
  std::map<std::string, Clock::time_point> bans_;  // until when
};

}  // namespace seedbank::node::gossip
