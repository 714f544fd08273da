// An IPv4 HOST:PORT as a sockaddr_in, for the tests' blocking clients.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "seedbank/protocol/util.h"

namespace seedbank::testing {

// Zero (no address) when `host_port` is not an IPv4 HOST:PORT.
inline sockaddr_in ipv4_address(const std::string& host_port) {
  sockaddr_in a{};
  auto hp = protocol::util::parse_host_port(host_port);
  if (!hp || ::inet_pton(AF_INET, hp->host.c_str(), &a.sin_addr) != 1) return sockaddr_in{};
  a.sin_family = AF_INET;
  a.sin_port = htons(hp->port);
  return a;
}

}  // namespace seedbank::testing
