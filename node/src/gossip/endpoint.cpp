#include "gossip/endpoint.h"

#include <cstdio>

#include "seedbank/protocol/util.h"

namespace seedbank::node::gossip {

namespace ip = boost::asio::ip;

ip::address normalized(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

bool is_loopback(const ip::address& a) { return normalized(a).is_loopback(); }

bool is_local_network(const ip::address& address) {
  auto a = normalized(address);
  if (a.is_loopback()) return true;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 169 && b[1] == 254);
  }
  auto b = a.to_v6().to_bytes();
  return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

std::string address_range(const ip::address& address) {
  auto a = normalized(address);
  if (is_local_network(a)) return a.to_string();
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return std::to_string(b[0]) + "." + std::to_string(b[1]) + ".0.0/16";
  }
  auto b = a.to_v6().to_bytes();
  char text[16];
  std::snprintf(text, sizeof text, "%02x%02x:%02x%02x::/32", b[0], b[1], b[2], b[3]);
  return text;
}

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
