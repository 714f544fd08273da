// host:port text and IP addresses as the gossip layer spells them. Pure:
// parsing only, no sockets.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace seedbank::node::gossip {

struct Endpoint {
  boost::asio::ip::address address;
  std::uint16_t port = 0;
};

// IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d.
boost::asio::ip::address normalized(const boost::asio::ip::address& a);
bool is_loopback(const boost::asio::ip::address& a);
// Loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
// (169.254/16, fe80::/10): addresses of this host or its own network,
// where many nodes on one address or prefix are normal.
bool is_local_network(const boost::asio::ip::address& a);
// The address range one operator is likely to hold many addresses in: /16
// for IPv4, /32 for IPv6. Local-network addresses are each their own
// range (see is_local_network).
std::string address_range(const boost::asio::ip::address& a);
// HOST:PORT (IPv6 in brackets) with an IP literal; port 0 only when
// `port_zero_ok`.
std::optional<Endpoint> parse_endpoint(const std::string& host_port, bool port_zero_ok = false);
std::string endpoint_text(const boost::asio::ip::address& a, std::uint16_t port);

}  // namespace seedbank::node::gossip
