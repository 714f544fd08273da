#include "seedbank/protocol/bootstrap_list.h"

#include <arpa/inet.h>

#include <charconv>

namespace seedbank::protocol {

bool is_ip_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return false;
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return false;
  unsigned char buf[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    std::string v6(host.substr(1, host.size() - 2));
    return ::inet_pton(AF_INET6, v6.c_str(), buf) == 1;
  }
  std::string v4(host);
  return ::inet_pton(AF_INET, v4.c_str(), buf) == 1;
}

Result<std::vector<BootstrapEntry>> parse_bootstrap_list(std::string_view text, std::string_view source) {
  if (text.size() > kMaxBootstrapBytes)
    return make_error(ErrorCode::limit, std::string(source) + ": a bootstrap list over 1 MiB");
  std::vector<BootstrapEntry> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto next_word = [&]() -> std::string_view {
      auto start = line.find_first_not_of(" \t\r");
      if (start == std::string_view::npos) return {};
      auto stop = line.find_first_of(" \t\r", start);
      auto word = line.substr(start, stop == std::string_view::npos ? std::string_view::npos : stop - start);
      line = stop == std::string_view::npos ? std::string_view() : line.substr(stop);
      return word;
    };
    auto where = std::string(source) + ":" + std::to_string(line_no) + ": ";
    auto address = next_word();
    if (address.empty()) continue;
    if (!is_ip_endpoint(address))
      return make_error(ErrorCode::malformed,
                        where + "'" + std::string(address.substr(0, 100)) + "' is not HOST:PORT with an IP address");
    BootstrapEntry entry{std::string(address), std::nullopt};
    if (auto key = next_word(); !key.empty()) {
      entry.key = PublicKey::from_text(key);
      if (!entry.key)
        return make_error(ErrorCode::malformed,
                          where + "'" + std::string(key.substr(0, 100)) + "' is not a node key (sbpk1...)");
    }
    if (!next_word().empty()) return make_error(ErrorCode::malformed, where + "extra words after the node key");
    if (out.size() >= kMaxBootstrapEntries)
      return make_error(ErrorCode::limit, std::string(source) + ": over 10,000 bootstrap peers");
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace seedbank::protocol
