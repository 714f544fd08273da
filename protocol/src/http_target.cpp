#include "seedbank/protocol/http_target.h"

#include <cctype>
#include <charconv>

namespace seedbank::protocol {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error bad_param(std::string_view name, const std::string& value, std::string_view expected) {
  return make_error(ErrorCode::invalid_argument, "query parameter '" + std::string(name) + "' is '" +
                                                     value.substr(0, 100) + "'; expected " + std::string(expected));
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

Result<HttpTarget> parse_target(std::string_view target) {
  if (target.size() > kMaxTargetBytes)
    return make_error(ErrorCode::invalid_argument, "request target is " + std::to_string(target.size()) +
                                                       " bytes, over the limit of " + std::to_string(kMaxTargetBytes));
  if (target.empty() || target[0] != '/')
    return make_error(ErrorCode::invalid_argument, "request target must start with '/'");
  auto hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  auto q = target.find('?');
  HttpTarget out;
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) return make_error(ErrorCode::invalid_argument, "request path has a malformed %-escape or a NUL");
  out.path = std::move(*path);
  if (q == std::string_view::npos) return out;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    if (out.params.size() == kMaxQueryParams)
      return make_error(ErrorCode::invalid_argument,
                        "more than " + std::to_string(kMaxQueryParams) + " query parameters");
    auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!name || !value)
      return make_error(ErrorCode::invalid_argument,
                        "query parameter '" + std::string(pair.substr(0, 100)) + "' has a malformed %-escape or a NUL");
    out.params.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::optional<std::string> HttpTarget::get(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return std::nullopt;
}

std::vector<std::string> HttpTarget::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params) {
    if (k != name) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) out.emplace_back(item);
    }
  }
  return out;
}

std::optional<std::vector<std::string>> HttpTarget::segments_after(std::string_view prefix) const {
  if (path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string_view rest = std::string_view(path).substr(prefix.size());
  if (!rest.empty() && rest[0] != '/') return std::nullopt;
  std::vector<std::string> out;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    auto slash = rest.find('/');
    out.emplace_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // a trailing slash
  return out;
}

Result<std::optional<std::uint64_t>> integer_param(const HttpTarget& target, std::string_view name, std::uint64_t min,
                                                   std::uint64_t max) {
  auto v = target.get(name);
  if (!v) return std::optional<std::uint64_t>{};
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max)
    return bad_param(name, *v, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return std::optional<std::uint64_t>(n);
}

Result<std::optional<bool>> bool_param(const HttpTarget& target, std::string_view name) {
  auto v = target.get(name);
  if (!v) return std::optional<bool>{};
  if (*v == "true" || *v == "1") return std::optional<bool>(true);
  if (*v == "false" || *v == "0") return std::optional<bool>(false);
  return bad_param(name, *v, "true or false");
}

std::optional<ByteRange> parse_range(std::string_view header, std::uint64_t size) {
  constexpr std::string_view unit = "bytes=";
  if (header.substr(0, unit.size()) != unit) return std::nullopt;
  std::string_view spec = header.substr(unit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view t) -> std::optional<std::uint64_t> {
    std::uint64_t n = 0;
    if (t.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
    return n;
  };
  auto first = number(spec.substr(0, dash));
  auto last = number(spec.substr(dash + 1));
  ByteRange r;
  if (!first) {  // a suffix: the last N bytes
    if (!last || spec.substr(0, dash).size() != 0) return std::nullopt;
    if (*last == 0 || size == 0) return ByteRange{0, 0, true};
    r.first = size - std::min(*last, size);
    r.last = size - 1;
    return r;
  }
  if (spec.substr(dash + 1).size() && !last) return std::nullopt;
  if (last && *last < *first) return std::nullopt;  // invalid: ignored
  if (*first >= size) return ByteRange{0, 0, true};
  r.first = *first;
  r.last = last ? std::min(*last, size - 1) : size - 1;
  return r;
}

}  // namespace seedbank::protocol
