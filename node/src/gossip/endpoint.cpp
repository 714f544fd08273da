#include "gossip/endpoint.h"

#include "seedbank/protocol/util.h"

namespace seedbank::node::gossip {

namespace ip = boost::asio::ip;

ip::address normalized(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

bool is_loopback(const ip::address& a) { return normalized(a).is_loopback(); }

std::optional<Endpoint> parse_endpoint(const std::string& host_port, bool port_zero_ok) {
  auto hp = protocol::util::parse_host_port(host_port, port_zero_ok);
  if (!hp) return std::nullopt;
  boost::system::error_code ec;
  auto addr = ip::make_address(hp->host, ec);
  if (ec) return std::nullopt;
  return Endpoint{addr, hp->port};
}

std::string endpoint_text(const ip::address& a, std::uint16_t port) {
  return protocol::util::host_port_text(a.to_string(), port);
}

}  // namespace seedbank::node::gossip
