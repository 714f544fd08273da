// Discovery: how a daemon finds other nodes without being given addresses
// (docs/protocol.md "Finding the network", bootstrap/README.md).
//
//   DHT rendezvous: announces the gossip port on the Mainline DHT under
//     protocol::rendezvous_key(network) and looks that key up: once the
//     routing table has a node, every 15 s while the node has fewer open
//     sessions (in or out) than --outbound (slowing to 2 min while lookups
//     find nothing new), then with backoff (1 min doubling to 30 min).
//     Announces again 15 s and 45 s after the first (which may reach a
//     routing table still filling), then every 15 min. Addresses found go
//     to gossip's address book as "dht", which caps how many of them are
//     dialled (address_book.h); loopback, private and this node's own
//     addresses are dropped first unless this node is on such a network.
//   LAN beacons: a UDP datagram (protocol::encode_lan_beacon) to a
//     multicast group (default 239.192.83.66:7402, TTL 1), or a broadcast
//     address, every 30 s and in answer to a node not heard from in 10 min.
//     Only beacons from a directly attached subnet are heeded.
//   Reachability: with port mapping on, asks the router to forward the
//     gossip port too, and says whether this node can be dialled.
//   A console line when peers appear from each source, and after a minute
//     with none, what the user can do.
//
// Everything runs on the node's io_context; not thread-safe. Needs a
// TorrentService (its DHT) only for the rendezvous; LAN beacons work
// without one.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "seedbank/node/gossip.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/log.h"

namespace boost::asio {
class io_context;
}

namespace seedbank::node {

inline constexpr const char* kDefaultLanBeacon = "239.192.83.66:7402";

struct DiscoveryOptions {
  std::string network = "main";
  bool rendezvous = true;                      // look the key up on the DHT (needs the DHT on)
  bool announce = true;                        // and announce this node's gossip port under it
  bool lan = false;                            // LAN beacons
  std::string lan_beacon = kDefaultLanBeacon;  // multicast group or broadcast address, HOST:PORT
  bool port_mapping = false;                   // the torrent session's UPnP / NAT-PMP is on
  bool private_dht = false;                    // DHT routers given (--dht-bootstrap): private addresses are fine
  // The BitTorrent listen address as configured (the DHT's socket): which
  // kind of network this node is on. Unspecified (0.0.0.0): the internet.
  std::string bt_listen;
  protocol::Log log;
};

struct DiscoveryStatus {
  bool rendezvous = false, lan = false, port_mapping = false;
  std::string rendezvous_key;  // hex
  std::int64_t dht_nodes = 0;
  std::uint64_t dht_bytes_in = 0, dht_bytes_out = 0;
  std::uint64_t lookups = 0, announces = 0;
  std::uint64_t found_dht = 0, found_lan = 0;  // new addresses
  std::uint64_t beacons_sent = 0, beacons_received = 0;
  // "yes (router forwards port N)", "yes (a node outside dialled in)",
  // "unknown", or "no (...)".
  std::string reachable = "unknown";
};

class Discovery {
 public:
  // `torrents` may be null (no DHT, no port mapping); both must outlive
  // this object. Errors: a bad --lan-beacon address, or a LAN socket that
  // cannot be opened (the message says which and how to turn it off).
  static protocol::Result<std::unique_ptr<Discovery>> start(boost::asio::io_context& io, DiscoveryOptions options,
                                                            TorrentService* torrents, GossipService& gossip);
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  DiscoveryStatus status() const;

 private:
  struct Impl;
  explicit Discovery(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace seedbank::node
