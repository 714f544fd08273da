#include "gossip/endpoint.h"

#include <cstdlib>

namespace seedbank::node::gossip {

namespace ip = boost::asio::ip;

ip::address normalized(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

bool is_loopback(const ip::address& a) { return normalized(a).is_loopback(); }

std::optional<Endpoint> parse_endpoint(const std::string& host_port, bool port_zero_ok) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = ip::make_address(host, ec);
  if (ec) return std::nullopt;
  int port = std::atoi(host_port.c_str() + colon + 1);
  if (port < 0 || port > 65535 || (port == 0 && !port_zero_ok)) return std::nullopt;
  return Endpoint{addr, static_cast<std::uint16_t>(port)};
}

std::string endpoint_text(const ip::address& a, std::uint16_t port) {
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(port) : a.to_string() + ":" + std::to_string(port);
}

}  // namespace seedbank::node::gossip
