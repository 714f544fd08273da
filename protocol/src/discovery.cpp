#include "seedbank/protocol/discovery.h"

#include <charconv>

#include "seedbank/protocol/keys.h"
#include "sha.h"

namespace seedbank::protocol {

Sha1Digest rendezvous_key(std::string_view network) {
  std::string input("seedbank/rendezvous/v1");
  input.push_back('\0');
  input.append(network);
  return detail::sha1(ByteView(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()));
}

std::string encode_lan_beacon(const LanBeacon& beacon) {
  return "SBLAN1 " + to_hex(beacon.key) + " " + std::to_string(beacon.gossip_port) + " " + beacon.node_id + "\n";
}

Result<LanBeacon> parse_lan_beacon(std::string_view text) {
  auto bad = [](const std::string& why) { return make_error(ErrorCode::malformed, "LAN beacon: " + why); };
  if (text.size() > kMaxLanBeaconBytes) return bad("longer than " + std::to_string(kMaxLanBeaconBytes) + " bytes");
  constexpr std::string_view kMagic = "SBLAN1 ";
  if (text.substr(0, kMagic.size()) != kMagic) return bad("does not start with SBLAN1");
  text.remove_prefix(kMagic.size());
  if (text.empty() || text.back() != '\n') return bad("not one line");
  text.remove_suffix(1);
  auto next = [&text]() {
    auto space = text.find(' ');
    auto field = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    return field;
  };
  LanBeacon b;
  auto key = from_hex_fixed<20>(next());
  if (!key) return bad("the rendezvous key is not 40 hex digits");
  b.key = *key;
  auto port_text = next();
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return bad("the gossip port is not 1-65535");
  b.gossip_port = static_cast<std::uint16_t>(port);
  auto id = next();
  if (!text.empty() || !PublicKey::from_text(id)) return bad("the node id is not one sbpk1 key");
  b.node_id = std::string(id);
  return b;
}

}  // namespace seedbank::protocol
