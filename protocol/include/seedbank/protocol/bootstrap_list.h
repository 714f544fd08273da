// Bootstrap lists (bootstrap/README.md): one "HOST:PORT [sbpk1...]" per
// line, '#' comments. HOST is an IP literal ([...] for IPv6). Pure parsing;
// node/ reads the file and dials.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

struct BootstrapEntry {
  std::string address;           // as written: "203.0.113.7:7400", "[2001:db8::5]:7400"
  std::optional<PublicKey> key;  // the node's key, when the line gives one
};

inline constexpr std::size_t kMaxBootstrapBytes = 1 << 20;
inline constexpr std::size_t kMaxBootstrapEntries = 10000;

// Errors name `source` and the line: malformed for a bad address or key,
// limit for a list over the sizes above.
Result<std::vector<BootstrapEntry>> parse_bootstrap_list(std::string_view text, std::string_view source);

// "a.b.c.d:port" or "[v6]:port", port 1..65535.
bool is_ip_endpoint(std::string_view text);

}  // namespace seedbank::protocol
