// Fuzzes the LAN beacon parser (any datagram from the LAN): a clean error,
// or a beacon that survives an encode and parse unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "seedbank/protocol/discovery.h"

using namespace seedbank::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto beacon = parse_lan_beacon(text);
  if (beacon) {
    if (beacon->gossip_port == 0) std::abort();
    auto again = parse_lan_beacon(encode_lan_beacon(*beacon));
    if (!again || again->key != beacon->key || again->gossip_port != beacon->gossip_port ||
        again->node_id != beacon->node_id)
      std::abort();
  }
  return 0;
}
