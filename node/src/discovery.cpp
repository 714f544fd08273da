#include "discovery.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <map>

#include "gossip/endpoint.h"
#include "seedbank/protocol/discovery.h"
#include "seedbank/protocol/keys.h"

namespace seedbank::node {

namespace asio = boost::asio;
namespace p = seedbank::protocol;
using Clock = std::chrono::steady_clock;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

constexpr auto kLookupWhileShort = seconds(15);    // fewer sessions than wanted
constexpr auto kMaxLookupWhileShort = minutes(2);  // ... and lookups keep finding nothing new
constexpr auto kFirstBackoff = minutes(1);
constexpr auto kMaxBackoff = minutes(30);
constexpr auto kAnnounceInterval = minutes(15);
constexpr auto kBeaconInterval = seconds(30);
constexpr auto kBeaconReplyGap = seconds(2);
constexpr auto kLonelyAfter = minutes(1);
constexpr auto kMappingWait = seconds(20);
constexpr std::size_t kMaxLanHeard = 1000;

namespace ip = asio::ip;

// This host's interface addresses and the subnets they are on.
struct Interfaces {
  std::vector<std::pair<ip::address, ip::address>> entries;  // address, netmask

  static Interfaces read() {
    Interfaces out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (auto* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr || !i->ifa_netmask) continue;
      if (i->ifa_addr->sa_family == AF_INET) {
        auto a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr;
        auto m = reinterpret_cast<const sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr;
        out.entries.emplace_back(ip::address_v4(ntohl(a)), ip::address_v4(ntohl(m)));
      }
    }
    ::freeifaddrs(list);
    return out;
  }
  bool is_own(const ip::address& a) const {
    return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == a; });
  }
  // On a subnet this host is directly attached to (a neighbour, not a
  // host behind a router).
  bool attached(const ip::address& a) const {
    if (!a.is_v4()) return false;
    auto x = a.to_v4().to_uint();
    return std::any_of(entries.begin(), entries.end(), [&](const auto& e) {
      auto mask = e.second.to_v4().to_uint();
      return (x & mask) == (e.first.to_v4().to_uint() & mask);
    });
  }
};

}  // namespace

struct Discovery::Impl : std::enable_shared_from_this<Discovery::Impl> {
  asio::io_context& io;
  DiscoveryOptions options;
  TorrentService* torrents;
  GossipService& gossip;
  p::Sha1Digest key;
  p::Log log;
  asio::steady_timer timer;
  Clock::time_point started = Clock::now();
  std::uint16_t gossip_port = 0;
  std::string node_id;

  ip::address own_ip;     // what BitTorrent (the DHT) is configured to listen on (maybe unspecified)
  ip::address gossip_ip;  // what gossip listens on (maybe unspecified)
  Interfaces interfaces = Interfaces::read();
  Clock::time_point interfaces_read = Clock::now();

  // Rendezvous.
  Clock::time_point next_lookup{}, last_lookup{}, next_announce{};
  Clock::duration backoff = kFirstBackoff, short_interval = kLookupWhileShort;
  std::uint64_t found_at_last_lookup = 0;
  std::size_t sessions_before = 0;
  bool dht_ready = false;   // the routing table has had a node
  int announces_early = 0;  // of the first three (0, 15, 45 s)
  bool said_dht_found = false;

  // LAN.
  std::unique_ptr<asio::ip::udp::socket> lan;
  asio::ip::udp::endpoint lan_target, lan_sender;
  std::array<char, p::kMaxLanBeaconBytes + 1> lan_buffer{};
  Clock::time_point next_beacon{}, last_reply{};
  std::map<std::string, Clock::time_point> lan_heard;  // node ids answered at once, when
  bool said_lan_found = false, said_lan_failed = false;

  // Reachability and the console.
  bool said_lonely = false, said_mapping = false, said_inbound = false;
  std::uint64_t sessions_seen = 0;  // gossip's sessions_opened at the last look for an inbound one

  DiscoveryStatus stats;

  Impl(asio::io_context& i, DiscoveryOptions o, TorrentService* t, GossipService& g)
      : io(i),
        options(std::move(o)),
        torrents(t),
        gossip(g),
        key(p::rendezvous_key(options.network)),
        log(options.log.with_component("discovery")),
        timer(i) {}

  bool rendezvous_on() const { return options.rendezvous && torrents && torrents->dht_on(); }

  p::Status open_lan() {
    auto target = gossip::parse_endpoint(options.lan_beacon);
    if (!target || !target->address.is_v4())
      return p::make_error(
          p::ErrorCode::invalid_argument,
          "--lan-beacon '" + options.lan_beacon + "' is not an IPv4 multicast group or broadcast address with a port");
    lan_target = asio::ip::udp::endpoint(target->address, target->port);
    lan = std::make_unique<asio::ip::udp::socket>(io);
    boost::system::error_code ec;
    lan->open(asio::ip::udp::v4(), ec);
    if (!ec) lan->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) lan->bind(asio::ip::udp::endpoint(asio::ip::address_v4::any(), target->port), ec);
    if (!ec && target->address.is_multicast()) {
      lan->set_option(asio::ip::multicast::hops(1), ec);
      if (!ec) lan->set_option(asio::ip::multicast::enable_loopback(true), ec);
      // A host without a multicast route (a container with loopback only)
      // still hears broadcasts; joining is best effort.
      boost::system::error_code join;
      lan->set_option(asio::ip::multicast::join_group(target->address), join);
      if (join) log.info("cannot join LAN group " + options.lan_beacon + ": " + join.message());
    } else if (!ec) {
      lan->set_option(asio::socket_base::broadcast(true), ec);
    }
    if (ec)
      return p::make_error(p::ErrorCode::io, "LAN beacons on " + options.lan_beacon + ": " + ec.message() +
                                                 "; pick another with --lan-beacon or turn them off with --no-lan");
    receive_beacon();
    return {};
  }

  void send_beacon() {
    if (!lan || gossip_port == 0) return;
    auto text = std::make_shared<std::string>(p::encode_lan_beacon({key, gossip_port, node_id}));
    lan->async_send_to(asio::buffer(*text), lan_target,
                       [text, w = weak_from_this()](const boost::system::error_code& ec, std::size_t) {
                         auto self = w.lock();
                         if (!self || ec == asio::error::operation_aborted) return;
                         if (!ec) {
                           ++self->stats.beacons_sent;
                         } else if (!self->said_lan_failed) {
                           self->said_lan_failed = true;
                           self->log.warn("cannot send LAN beacons to " + self->options.lan_beacon + ": " +
                                          ec.message() +
                                          " (no route for it?); give --lan-beacon your subnet's broadcast address, "
                                          "HOST:PORT, or turn beacons off with --no-lan");
                         }
                       });
  }

  void receive_beacon() {
    lan->async_receive_from(asio::buffer(lan_buffer), lan_sender,
                            [w = weak_from_this()](const boost::system::error_code& ec, std::size_t n) {
                              auto self = w.lock();
                              if (!self || ec == asio::error::operation_aborted || !self->lan) return;
                              if (!ec) self->on_beacon(std::string_view(self->lan_buffer.data(), n));
                              self->receive_beacon();
                            });
  }

  void refresh_interfaces(Clock::time_point now) {
    if (now - interfaces_read < minutes(1)) return;
    interfaces_read = now;
    interfaces = Interfaces::read();
  }

  void on_beacon(std::string_view datagram) {
    auto from = gossip::normalized(lan_sender.address());
    // Beacons go no further than the LAN (TTL 1): one from a host that is
    // not a neighbour (another subnet, or a forged source) is not heeded.
    refresh_interfaces(Clock::now());
    if (!gossip::is_local_network(from) || !interfaces.attached(from)) return;
    auto beacon = p::parse_lan_beacon(datagram);
    if (!beacon || beacon->key != key || beacon->node_id == node_id) return;
    ++stats.beacons_received;
    auto address = gossip::endpoint_text(from, beacon->gossip_port);
    if (gossip.add_discovered({address}, "lan")) {
      ++stats.found_lan;
      if (!said_lan_found) {
        said_lan_found = true;
        log.info("found a node on the LAN at " + address);
      }
    }
    // A node not heard from lately hears back at once rather than in 30 s.
    auto now = Clock::now();
    auto heard = lan_heard.find(beacon->node_id);
    if (heard != lan_heard.end() && now - heard->second < minutes(10)) return;
    if (now - last_reply < kBeaconReplyGap) return;
    last_reply = now;
    if (lan_heard.size() >= kMaxLanHeard)
      for (auto it = lan_heard.begin(); it != lan_heard.end();)
        it = now - it->second >= minutes(10) ? lan_heard.erase(it) : std::next(it);
    if (lan_heard.size() >= kMaxLanHeard) lan_heard.clear();
    lan_heard[beacon->node_id] = now;
    send_beacon();
  }

  // Addresses a DHT node answered with are whatever it chose: only those
  // of the kind of network this node is on are dialled (no loopback unless
  // it listens there, no private range unless it is on one or uses a DHT of
  // its own), never this node itself.
  bool worth_dialling(const gossip::Endpoint& ep) const {
    auto a = gossip::normalized(ep.address);
    if (a.is_unspecified() || a.is_multicast() || (a.is_v4() && a.to_v4() == ip::address_v4::broadcast())) return false;
    bool own_loopback = own_ip.is_loopback();
    bool own_private = gossip::is_local_network(own_ip) && !own_loopback;
    if (a.is_loopback() && !own_loopback) return false;
    if (!a.is_loopback() && gossip::is_local_network(a) && !own_private && !options.private_dht) return false;
    if (ep.port == gossip_port && (a == gossip_ip || interfaces.is_own(a))) return false;
    return true;
  }

  void on_dht_peers(const p::Sha1Digest& k, const std::vector<std::string>& peers) {
    if (k != key) return;
    refresh_interfaces(Clock::now());
    std::vector<std::string> usable;
    for (const auto& a : peers)
      if (auto ep = gossip::parse_endpoint(a); ep && worth_dialling(*ep)) usable.push_back(a);
    auto fresh = gossip.add_discovered(usable, "dht");
    stats.found_dht += fresh;
    if (fresh && !said_dht_found) {
      said_dht_found = true;
      log.info("found " + std::to_string(fresh) + " node" + (fresh == 1 ? "" : "s") + " on the Mainline DHT");
    }
  }

  void rendezvous(Clock::time_point now) {
    if (!rendezvous_on()) return;
    // Until the routing table has a node, a lookup or announce would reach
    // nobody: wait for one, and spend no early announce meanwhile.
    if (torrents->network_stats().dht_nodes == 0) return;
    if (!dht_ready) {
      dht_ready = true;
      next_lookup = next_announce = now;
    }
    auto sessions = gossip.open_sessions();
    bool short_of_peers = sessions < gossip.wanted_sessions();
    if (short_of_peers) {
      backoff = kFirstBackoff;
      next_lookup = std::min(next_lookup, last_lookup + short_interval);
    }
    // A session lost: look again soon.
    if (sessions < sessions_before) short_interval = kLookupWhileShort;
    sessions_before = sessions;
    if (now >= next_lookup) {
      // While short of peers, every 15 s; but in a network smaller than
      // --outbound, lookups that find nothing new slow down (to 2 min).
      short_interval = stats.found_dht > found_at_last_lookup || stats.lookups == 0
                           ? kLookupWhileShort
                           : std::min<Clock::duration>(short_interval * 2, kMaxLookupWhileShort);
      found_at_last_lookup = stats.found_dht;
      last_lookup = now;
      ++stats.lookups;
      torrents->dht_lookup(key);
      if (short_of_peers) {
        next_lookup = now + short_interval;
      } else {
        next_lookup = now + backoff;
        backoff = std::min<Clock::duration>(backoff * 2, kMaxBackoff);
      }
    }
    if (options.announce && gossip_port != 0 && now >= next_announce) {
      ++stats.announces;
      torrents->dht_announce(key, gossip_port);
      static constexpr std::array<seconds, 2> kEarly{seconds(15), seconds(30)};
      next_announce = now + (announces_early < 2 ? Clock::duration(kEarly[announces_early++]) : kAnnounceInterval);
    }
  }

  void console(Clock::time_point now) {
    if (!said_lonely && now - started >= kLonelyAfter && gossip.open_sessions() == 0) {
      said_lonely = true;
      std::string tried;
      if (rendezvous_on())
        tried += "the Mainline DHT (" + std::to_string(torrents->network_stats().dht_nodes) + " DHT nodes known)";
      if (lan) tried += std::string(tried.empty() ? "" : ", ") + "LAN beacons";
      auto sources = gossip.address_sources();
      std::size_t known = 0;
      for (const auto& [s, n] : sources) known += n;
      log.warn("no peers after a minute (" + std::to_string(known) + " addresses known" +
               (tried.empty() ? std::string("; discovery is off") : "; tried " + tried) +
               "). To join: run `seedbank peers --add HOST:PORT` with a node's gossip address, list addresses in "
               "<data dir>/bootstrap.txt (bootstrap/README.md), or let UDP through to the BitTorrent port for "
               "the DHT");
    }
    if (options.port_mapping && !said_mapping && now - started >= kMappingWait) {
      said_mapping = true;
      if (torrents && reachable_by_mapping().empty())
        log.info(
            "no router forwarded a port (UPnP, NAT-PMP): nodes outside this network can dial in only if the "
            "BitTorrent and gossip ports are forwarded by hand; this node still syncs through the sessions it "
            "dials");
    }
    // Only when a session opened since the last look: no list built each
    // second for a node nobody outside dials.
    auto opened = gossip.stats().sessions_opened;
    if (!said_inbound && opened != sessions_seen)
      for (const auto& peer : gossip.peers()) {
        auto ep = gossip::parse_endpoint(peer.address);
        if (peer.outbound || !ep || gossip::is_local_network(ep->address)) continue;
        said_inbound = true;
        stats.reachable = "yes (" + peer.address + " dialled in)";
        log.info("reachable from outside: " + peer.address + " dialled in");
        break;
      }
    sessions_seen = opened;
  }

  std::string reachable_by_mapping() const {
    if (!torrents) return "";
    for (const auto& m : torrents->port_mappings())
      if (m.error.empty() && m.local_port == gossip_port)
        return "yes (the router forwards port " + std::to_string(m.external_port) + ", " + m.method + ")";
    return "";
  }

  void tick() {
    auto now = Clock::now();
    rendezvous(now);
    if (lan && now >= next_beacon) {
      next_beacon = now + kBeaconInterval;
      send_beacon();
    }
    console(now);
    timer.expires_after(seconds(1));
    timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->tick();
    });
  }
};

Discovery::Discovery(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Discovery::~Discovery() {
  impl_->timer.cancel();
  if (impl_->torrents) impl_->torrents->set_dht_peers_handler({});
  if (impl_->lan) {
    boost::system::error_code ec;
    impl_->lan->close(ec);
  }
}

p::Result<std::unique_ptr<Discovery>> Discovery::start(asio::io_context& io, DiscoveryOptions options,
                                                       TorrentService* torrents, GossipService& gossip) {
  auto impl = std::make_shared<Impl>(io, std::move(options), torrents, gossip);
  impl->gossip_port = p::util::port_of(gossip.listen_address());
  // The network this node is on, as its DHT sees it: the BitTorrent
  // address as configured (libtorrent reports one socket per interface for
  // 0.0.0.0, so its reports would name any of them).
  if (auto listen = gossip::parse_endpoint(impl->options.bt_listen, true))
    impl->own_ip = gossip::normalized(listen->address);
  if (auto listen = gossip::parse_endpoint(gossip.listen_address()))
    impl->gossip_ip = gossip::normalized(listen->address);
  impl->node_id = gossip.node_id();
  if (impl->options.lan)
    if (auto st = impl->open_lan(); !st) return st.error();
  if (torrents) {
    torrents->set_dht_peers_handler([raw = impl.get()](const p::Sha1Digest& k, const std::vector<std::string>& peers) {
      raw->on_dht_peers(k, peers);
    });
    if (impl->options.port_mapping && impl->gossip_port) torrents->map_port(impl->gossip_port);
  }
  auto& o = impl->options;
  std::string what;
  if (impl->rendezvous_on())
    what += std::string("Mainline DHT rendezvous (") + (o.announce && impl->gossip_port ? "announcing" : "looking up") +
            " key " + p::to_hex(impl->key).substr(0, 12) + " of network '" + o.network + "')";
  if (impl->lan) what += std::string(what.empty() ? "" : ", ") + "LAN beacons on " + o.lan_beacon;
  if (o.port_mapping && torrents)
    what += std::string(what.empty() ? "" : ", ") +
            "asking the router to forward the BitTorrent and gossip ports "
            "(UPnP, NAT-PMP)";
  auto sources = gossip.address_sources();
  std::string from;
  for (const auto& [source, n] : sources) from += (from.empty() ? "" : ", ") + std::to_string(n) + " from " + source;
  impl->log.info("finding peers: " + (what.empty() ? std::string("discovery off") : what) + "; starting from " +
                 (from.empty() ? std::string("no known addresses") : from));
  impl->tick();
  return std::unique_ptr<Discovery>(new Discovery(impl));
}

DiscoveryStatus Discovery::status() const {
  auto& impl = *impl_;
  auto s = impl.stats;
  s.rendezvous = impl.rendezvous_on();
  s.lan = impl.lan != nullptr;
  s.port_mapping = impl.options.port_mapping;
  s.rendezvous_key = p::to_hex(impl.key);
  if (impl.torrents) {
    auto net = impl.torrents->network_stats();
    s.dht_nodes = net.dht_nodes;
    s.dht_bytes_in = net.dht_bytes_in;
    s.dht_bytes_out = net.dht_bytes_out;
  }
  if (s.reachable == "unknown") {
    auto mapped = impl.reachable_by_mapping();
    if (!mapped.empty())
      s.reachable = mapped;
    else if (impl.said_mapping)
      s.reachable = "no router forwarded a port; unknown unless a node outside dials in";
  }
  return s;
}

}  // namespace seedbank::node
