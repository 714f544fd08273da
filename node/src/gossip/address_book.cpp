#include "gossip/address_book.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>

#include "files.h"
#include "gossip/limits.h"

namespace seedbank::node::gossip {

namespace p = seedbank::protocol;

std::string_view to_string(Source source) {
  switch (source) {
    case Source::bootstrap:
      return "bootstrap";
    case Source::saved:
      return "peers.json";
    case Source::dht:
      return "dht";
    case Source::lan:
      return "lan";
    case Source::exchange:
      return "peer";
    case Source::inbound:
      return "inbound";
    case Source::manual:
      return "manual";
  }
  return "peer";
}

void AddressBook::add(const std::string& host_port, Source source) {
  bool fresh = !known_.count(host_port);
  auto& k = known_[host_port];
  if (fresh) k.source = source;
  k.next_try = Clock::time_point{};
}

std::size_t AddressBook::discovered(const std::vector<std::string>& host_ports, Source source) {
  // Counted once per batch (a DHT answer brings up to 100), then kept up
  // to date as addresses come and go.
  auto unproven = static_cast<std::size_t>(
      std::count_if(known_.begin(), known_.end(), [](const auto& e) { return unproven_discovered(e.second); }));
  std::size_t fresh = 0;
  for (const auto& host_port : host_ports) {
    if (known_.count(host_port)) continue;
    if (unproven >= kMaxUnprovenDiscovered) {
      auto worst = known_.end();
      for (auto it = known_.begin(); it != known_.end(); ++it)
        if (unproven_discovered(it->second) && (worst == known_.end() || it->second.fails > worst->second.fails))
          worst = it;
      if (worst == known_.end() || worst->second.fails == 0) break;  // none has failed yet: keep them
      known_.erase(worst);
      --unproven;
    }
    if (known_.size() >= kMaxKnown) break;
    known_[host_port].source = source;
    ++unproven;
    ++fresh;
  }
  return fresh;
}

std::optional<Source> AddressBook::source_of(const std::string& host_port) const {
  auto it = known_.find(host_port);
  if (it == known_.end()) return std::nullopt;
  return it->second.source;
}

void AddressBook::load() {
  if (peers_file_.empty()) return;
  std::ifstream in(peers_file_);
  if (!in) return;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_array()) return;  // a damaged file costs only the remembered peers
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    std::string addr = e.value("address", "");
    if (!parse_endpoint(addr)) continue;
    auto& k = known_[addr];
    k.source = Source::saved;
    k.node_id = e.value("nodeId", "");
    k.last_seen = e.value("lastSeen", std::int64_t{0});
  }
}

void AddressBook::save() const {
  if (peers_file_.empty()) return;
  std::vector<std::pair<std::string, Known>> list(known_.begin(), known_.end());
  std::sort(list.begin(), list.end(),
            [](const auto& a, const auto& b) { return a.second.last_seen > b.second.last_seen; });
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [addr, k] : list) {
    if (k.self || (k.last_seen == 0 && (k.fails > 0 || k.source == Source::dht || k.source == Source::lan))) continue;
    if (j.size() >= 1000) break;
    j.push_back({{"address", addr}, {"nodeId", k.node_id}, {"lastSeen", k.last_seen}});
  }
  (void)write_file_atomically(peers_file_, j.dump(1) + "\n");  // a failure costs only remembered peers
}

void AddressBook::remember(const std::string& addr, const std::string& node_id, bool seen, std::int64_t unix_now,
                           Source source) {
  bool fresh = !known_.count(addr);
  if (known_.size() >= kMaxKnown && fresh) return;
  auto& k = known_[addr];
  if (fresh) k.source = source;
  if (!node_id.empty()) k.node_id = node_id;
  if (seen) {
    k.last_seen = unix_now;
    k.fails = 0;
  }
}

void AddressBook::dialling(const std::string& addr, Clock::time_point now) {
  auto& k = known_[addr];
  k.next_try = now + std::chrono::seconds(std::min(300u, 1u << std::min(k.fails, 8u)));
  if (unproven_discovered(k)) dht_dials_.push_back(now);
}

std::vector<std::string> AddressBook::candidates(Clock::time_point now,
                                                 const std::function<bool(const std::string&)>& connected,
                                                 std::mt19937_64& rng) {
  std::vector<std::string> proven, unproven;
  for (const auto& [addr, k] : known_) {
    if (k.self || k.next_try > now || connected(addr)) continue;
    if (!k.node_id.empty()) {
      auto key = p::PublicKey::from_text(k.node_id);
      if (key && banned(*key, now)) continue;
    }
    (k.last_seen > 0 ? proven : unproven).push_back(addr);
  }
  std::shuffle(proven.begin(), proven.end(), rng);
  std::shuffle(unproven.begin(), unproven.end(), rng);
  while (!dht_dials_.empty() && now - dht_dials_.front() >= std::chrono::minutes(1)) dht_dials_.pop_front();
  std::size_t budget = kDhtDialsPerMinute > dht_dials_.size() ? kDhtDialsPerMinute - dht_dials_.size() : 0;
  std::set<std::string> ranges;
  for (auto& addr : unproven) {
    if (!unproven_discovered(known_.at(addr))) {
      proven.push_back(std::move(addr));
      continue;
    }
    auto ep = parse_endpoint(addr);
    if (!ep || budget == 0) continue;
    if (!is_local_network(ep->address) && !ranges.insert(address_range(ep->address)).second) continue;
    --budget;
    proven.push_back(std::move(addr));
  }
  return proven;
}

std::vector<std::pair<Endpoint, std::string>> AddressBook::to_share(const std::string& exclude, std::size_t n,
                                                                    std::mt19937_64& rng) const {
  std::vector<std::pair<std::string, const Known*>> list;
  for (const auto& [addr, k] : known_)
    if (!k.self && k.last_seen > 0 && addr != exclude) list.emplace_back(addr, &k);
  std::shuffle(list.begin(), list.end(), rng);
  if (list.size() > n) list.resize(n);
  std::vector<std::pair<Endpoint, std::string>> out;
  for (const auto& [addr, k] : list)
    if (auto ep = parse_endpoint(addr)) out.emplace_back(*ep, k->node_id);
  return out;
}

bool AddressBook::banned(const std::string& key, Clock::time_point now) {
  auto it = bans_.find(key);
  if (it == bans_.end()) return false;
  if (it->second < now) {
    bans_.erase(it);
    return false;
  }
  return true;
}

void AddressBook::ban(const std::optional<p::PublicKey>& id, const boost::asio::ip::address& ip,
                      const std::string& remote, const std::string& reason, Clock::time_point now) {
  auto until = now + ban_time_;
  // Bounded: a stranger who gets banned from ever new addresses costs at
  // most kMaxBans entries; the one closest to expiring makes room.
  if (bans_.size() + 2 > kMaxBans) {
    expire(now);
    while (bans_.size() + 2 > kMaxBans)
      bans_.erase(std::min_element(bans_.begin(), bans_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  if (id) bans_["id:" + p::to_hex(id->bytes)] = until;
  // Loopback peers share one address (tests, devnets): ban only the key.
  if (!is_loopback(ip)) bans_["ip:" + ip.to_string()] = until;
  // A flood of hostile connections is one line a minute, not one each.
  if (now - log_window_ >= kBanLogWindow) {
    flush_ban_log(now);
    log_window_ = now;
  }
  if (++bans_in_window_ <= kBanLinesPerWindow)
    log_.warn("banned " + remote + " for " + std::to_string(ban_time_.count()) + " s: " + reason);
}

void AddressBook::flush_ban_log(Clock::time_point now) {
  if (bans_in_window_ > kBanLinesPerWindow)
    log_.warn("and banned " + std::to_string(bans_in_window_ - kBanLinesPerWindow) + " more peers in the last " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - log_window_).count()) + " s");
  bans_in_window_ = 0;
}

void AddressBook::expire(Clock::time_point now) {
  if (bans_in_window_ > kBanLinesPerWindow && now - log_window_ >= kBanLogWindow) {
    flush_ban_log(now);
    log_window_ = now;
  }
  for (auto it = bans_.begin(); it != bans_.end();) it = it->second < now ? bans_.erase(it) : std::next(it);
  if (known_.size() > kMaxKnown * 9 / 10)  // forget addresses that never worked
    for (auto it = known_.begin(); it != known_.end();)
      it = it->second.last_seen == 0 && it->second.fails > 0 ? known_.erase(it) : std::next(it);
}

}  // namespace seedbank::node::gossip
