// Private to the torrent files: keeps a node from dialling its own
// BitTorrent endpoints. Peers tell each other who is in a swarm (PEX), and
// a node hears its own address that way (also from trackers, the DHT and
// gossip's seeder lists). libtorrent notices only after the handshake, and
// the side that notices is the incoming one, which cannot ban the address
// that was dialled: the dial repeats every second, in every swarm. This
// plugin closes such a dial as soon as it connects, as a self-connection,
// which makes libtorrent ban that address in that swarm: one dial per
// swarm, not one a second. (libtorrent offers no hook before the dial: a
// plugin that throws there pauses the whole torrent.) Seedbank's own
// connect_peer calls skip these endpoints altogether.
#pragma once

#include <libtorrent/extensions.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <set>

namespace seedbank::node {

class OwnEndpoints {
 public:
  // The session listens on `port` at `address`: when that is unspecified
  // (0.0.0.0 or ::), on every address of this host's interfaces.
  void listening(const lt::address& address, std::uint16_t port);
  // The address peers say they see this node at, with the listen port
  // (behind NAT with a port forwarded as is): replaces the one before of
  // the same address family.
  void external(const lt::address& address, std::uint16_t port);
  bool is_own(const lt::tcp::endpoint& endpoint) const;

 private:
  mutable std::mutex mutex_;
  std::set<lt::tcp::endpoint> endpoints_;
  std::optional<lt::tcp::endpoint> external_v4_, external_v6_;
};

// The session plugin; `own` outlives the session.
std::shared_ptr<lt::plugin> no_self_dial_plugin(std::shared_ptr<OwnEndpoints> own);

}  // namespace seedbank::node
