// The bottom layer: small conversions every component needs, written once.
// Pure functions; thread-safe.
#pragma once

#include <capnp/blob.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol::util {

// The largest image a record can name and nodes pass on: posted images and
// avatars over gossip, uploads from the gallery (which reads it from
// /api/seedbank/me).
inline constexpr std::uint64_t kMaxImageBytes = 16u << 20;

// HOST:PORT as people write it: a name or IPv4 address, or a bracketed IPv6
// address ("[::1]:7400"). Error invalid_argument naming the text and the
// form expected. Port 0 ("pick one") only when `allow_port_zero`.
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};
Result<HostPort> parse_host_port(std::string_view text, bool allow_port_zero = false);
// The text form: brackets around an IPv6 host.
std::string host_port_text(std::string_view host, std::uint16_t port);
// The port of "HOST:PORT", or 0 when it has none.
std::uint16_t port_of(std::string_view host_port);

// Sizes as Seedbank shows them everywhere (CLI, gallery, errors): binary
// units, "1 byte", "512 bytes", "1.5 KiB", "4.0 GiB"; rates likewise,
// "1.4 MiB/s".
std::string human_bytes(std::uint64_t bytes);
std::string human_rate(double bytes_per_second);

// A fixed-size hash field of a record (a SHA-256, an id, a key) as an
// array; all zero when the field has another size (validated records never
// do).
template <std::size_t N>
std::array<std::uint8_t, N> fixed_bytes(capnp::Data::Reader data) {
  std::array<std::uint8_t, N> out{};
  if (data.size() == N) std::memcpy(out.data(), data.begin(), N);
  return out;
}
inline Sha256Digest digest_of(capnp::Data::Reader data) { return fixed_bytes<32>(data); }
inline capnp::Data::Reader as_data(ByteView bytes) { return capnp::Data::Reader(bytes.data(), bytes.size()); }

}  // namespace seedbank::protocol::util
