// Fuzzes HTTP request targets, query strings and Range headers as the API
// reads them: any bytes give a parsed target or a clean error, never a
// crash; decoded parts hold no NUL, percent-encoding round-trips, and a
// range always lies inside the body.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "seedbank/protocol/http_target.h"

using namespace seedbank::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The first line is a target, the second a Range header.
  auto nl = text.find('\n');
  std::string_view target = text.substr(0, nl);
  std::string_view range = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

  auto t = parse_target(target);
  if (t) {
    if (t->path.find('\0') != std::string::npos) std::abort();
    if (t->params.size() > kMaxQueryParams) std::abort();
    for (const auto& [k, v] : t->params) {
      if (k.find('\0') != std::string::npos || v.find('\0') != std::string::npos) std::abort();
      auto again = percent_decode(percent_encode(v), false);
      if (!again || *again != v) std::abort();
    }
    (void)t->all("types");
    (void)t->segments_after("/api/v1/models");
    (void)integer_param(*t, "limit", 0, 100);
    (void)bool_param(*t, "nsfw");
  }
  for (std::uint64_t body : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000}, ~std::uint64_t{0}}) {
    auto r = parse_range(range, body);
    if (r && !r->unsatisfiable && (r->first > r->last || r->last >= body)) std::abort();
  }
  return 0;
}
