#include "gossip/seeders.h"

#include <algorithm>
#include <cstring>

#include "gossip/endpoint.h"
#include "gossip/limits.h"

namespace seedbank::node::gossip {

namespace p = seedbank::protocol;

void Seeders::closed(SessionId id) {
  auto it = lists_.find(id);
  if (it == lists_.end()) return;
  view_.recount(it->second.seeding, {});
  lists_.erase(it);
}

bool Seeders::set_mine(std::vector<p::Sha256Digest> info_hashes) {
  std::sort(info_hashes.begin(), info_hashes.end());
  // Peers close a session whose list is longer: past the cap, the rest is
  // left out (they still find the others by asking, findSeeders).
  if (info_hashes.size() > kMaxSeeding) info_hashes.resize(kMaxSeeding);
  if (info_hashes == mine_) return false;
  view_.recount(mine_, info_hashes);
  mine_ = std::move(info_hashes);
  return true;
}

void Seeders::send_mine(SessionId id) {
  for (std::size_t at = 0;; at += kMaxIds) {
    std::size_t n = std::min(kMaxIds, mine_.size() - at);
    capnp::MallocMessageBuilder m;
    auto list = m.initRoot<schema::GossipMessage>().initSeeding(static_cast<unsigned>(n));
    for (std::size_t i = 0; i < n; ++i)
      list.set(static_cast<unsigned>(i), capnp::Data::Reader(mine_[at + i].data(), 32));
    sessions_.send(id, m);
    if (n < kMaxIds) break;
  }
}

// Full chunks of kMaxIds build a list; a shorter (maybe empty) chunk ends
// it and replaces the previous one.
void Seeders::on_seeding(SessionId id, capnp::List<capnp::Data>::Reader list) {
  auto& s = lists_[id];
  if (list.size() > kMaxIds) return sessions_.close(id, "malformed seeding list", true);
  if (s.seeding_next.size() + list.size() > kMaxSeeding) return sessions_.close(id, "claims to seed too much", true);
  for (auto d : list) {
    if (d.size() != 32) return sessions_.close(id, "malformed seeding list", true);
    p::Sha256Digest h;
    std::memcpy(h.data(), d.begin(), 32);
    s.seeding_next.push_back(h);
  }
  if (list.size() < kMaxIds) {
    auto old = std::exchange(s.seeding, std::exchange(s.seeding_next, {}));
    std::sort(s.seeding.begin(), s.seeding.end());
    s.seeding.erase(std::unique(s.seeding.begin(), s.seeding.end()), s.seeding.end());
    view_.recount(old, s.seeding);
  }
}

bool Seeders::seeds(SessionId id, const p::Sha256Digest& info_hash) const {
  auto it = lists_.find(id);
  return it != lists_.end() && std::binary_search(it->second.seeding.begin(), it->second.seeding.end(), info_hash);
}

void Seeders::on_find_seeders(SessionId id, capnp::Data::Reader d) {
  if (d.size() != 32) return sessions_.close(id, "malformed findSeeders", true);
  p::Sha256Digest ih;
  std::memcpy(ih.data(), d.begin(), 32);
  std::vector<std::pair<std::string, std::uint16_t>> found;
  if (bt_port_ && std::binary_search(mine_.begin(), mine_.end(), ih)) found.emplace_back("", bt_port_);
  for (const auto& other : sessions_.open_sessions())
    if (other.id != id && other.hello.bt_port && seeds(other.id, ih))
      found.emplace_back(other.remote_ip.to_string(), other.hello.bt_port);
  if (auto it = learned_.find(ih); it != learned_.end())
    for (const auto& e : it->second)
      if (auto ep = parse_endpoint(e)) found.emplace_back(ep->address.to_string(), ep->port);
  if (found.size() > kPeersPerMessage) found.resize(kPeersPerMessage);
  capnp::MallocMessageBuilder out;
  auto reply = out.initRoot<schema::GossipMessage>().initSeeders();
  reply.setInfoHash(capnp::Data::Reader(ih.data(), 32));
  auto list = reply.initPeers(static_cast<unsigned>(found.size()));
  for (unsigned i = 0; i < found.size(); ++i) {
    list[i].setHost(found[i].first);
    list[i].setPort(found[i].second);
  }
  sessions_.send(id, out);
}

void Seeders::on_seeders(SessionId id, schema::Seeders::Reader r) {
  if (r.getInfoHash().size() != 32 || r.getPeers().size() > 4 * kPeersPerMessage)
    return sessions_.close(id, "malformed seeders", true);
  p::Sha256Digest ih;
  std::memcpy(ih.data(), r.getInfoHash().begin(), 32);
  if (!asked_.count(ih)) return;  // unsolicited
  auto facts = sessions_.facts(id);
  if (!facts) return;
  auto& set = learned_[ih];
  for (auto a : r.getPeers()) {
    if (a.getPort() == 0 || set.size() >= 64) continue;
    auto addr = facts->remote_ip;
    if (a.getHost().size()) {
      boost::system::error_code ec;
      addr = normalized(boost::asio::ip::make_address(a.getHost().cStr(), ec));
      if (ec || (addr.is_loopback() && !is_loopback(facts->remote_ip))) continue;
    }
    set.insert(endpoint_text(addr, a.getPort()));
  }
}

void Seeders::ask(const p::Sha256Digest& info_hash, Clock::time_point now) {
  auto& last = asked_[info_hash];
  if (last != Clock::time_point{} && now - last < std::chrono::seconds(5)) return;
  last = now;
  if (asked_.size() > 10000) {  // forget old questions (and their answers)
    asked_.clear();
    learned_.clear();
    asked_[info_hash] = now;
  }
  for (const auto& s : sessions_.open_sessions()) {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::GossipMessage>().setFindSeeders(capnp::Data::Reader(info_hash.data(), 32));
    sessions_.send(s.id, m);
  }
}

std::vector<std::string> Seeders::of(const p::Sha256Digest& info_hash) const {
  std::vector<std::string> out;
  if (auto it = learned_.find(info_hash); it != learned_.end()) out.assign(it->second.begin(), it->second.end());
  for (const auto& s : sessions_.open_sessions())
    if (s.hello.bt_port && seeds(s.id, info_hash)) out.push_back(endpoint_text(s.remote_ip, s.hello.bt_port));
  return out;
}

}  // namespace seedbank::node::gossip
