#include "seedbank/protocol/util.h"

#include <charconv>
#include <cstdio>

namespace seedbank::protocol::util {

Result<HostPort> parse_host_port(std::string_view text, bool allow_port_zero) {
  auto fail = [&] {
    return make_error(ErrorCode::invalid_argument, "'" + std::string(text.substr(0, 200)) +
                                                       "' is not HOST:PORT (e.g. 127.0.0.1:7400 or [::1]:7400)");
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) return fail();
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return fail();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return fail();  // an IPv6 address needs its brackets
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || (value == 0 && !allow_port_zero))
    return fail();
  return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string host_port_text(std::string_view host, std::uint16_t port) {
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

std::uint16_t port_of(std::string_view host_port) {
  auto hp = parse_host_port(host_port, true);
  return hp ? hp->port : 0;
}

namespace {

std::string scaled(double value, const char* const* units, std::size_t count) {
  std::size_t unit = 0;
  while (value >= 1023.95 && unit + 1 < count) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buf;
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  return scaled(static_cast<double>(bytes), kUnits, std::size(kUnits));
}

std::string human_rate(double bytes_per_second) {
  static constexpr const char* kUnits[] = {"B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"};
  return scaled(bytes_per_second < 0 ? 0 : bytes_per_second, kUnits, std::size(kUnits));
}

}  // namespace seedbank::protocol::util
