// How nodes find each other without a list of addresses (docs/protocol.md,
// "Finding the network"): the Mainline DHT key they announce their gossip
// port under, and the beacon they send on the local network. Pure: no
// sockets; node/ sends and receives.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

// SHA-1 of "seedbank/rendezvous/v1" NUL <network name>: nodes of one network
// meet under it; different networks never do. Every node computes the same.
Sha1Digest rendezvous_key(std::string_view network);

// A LAN beacon is one UDP datagram of text:
//   "SBLAN1 <rendezvous key, 40 hex> <gossip port> <node id sbpk1...>\n"
// The sender's address comes from the datagram, never from the text.
struct LanBeacon {
  Sha1Digest key{};
  std::uint16_t gossip_port = 0;
  std::string node_id;  // sbpk1..., as the sender says (proved only by the handshake)
};

inline constexpr std::size_t kMaxLanBeaconBytes = 256;

std::string encode_lan_beacon(const LanBeacon& beacon);
// Error malformed naming what was wrong (not a beacon, a bad key, port 0).
Result<LanBeacon> parse_lan_beacon(std::string_view datagram);

}  // namespace seedbank::protocol
