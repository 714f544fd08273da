// Fuzzes the bootstrap list parser: any text gives entries that are valid
// IP endpoints (with valid keys) or a clean error, never a crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "seedbank/protocol/bootstrap_list.h"

using namespace seedbank::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = parse_bootstrap_list(text, "fuzz");
  if (entries)
    for (const auto& e : *entries)
      if (!is_ip_endpoint(e.address)) std::abort();
  return 0;
}
