// HTTP request targets ("/api/v1/models?types=LORA&sort=Newest") and the
// values in them, as the node's HTTP API reads them.
//
// Targets come from any client, so they are untrusted: parse_target checks
// every escape and bounds the sizes, and the value readers say which
// parameter was wrong and what it should be. Pure: no I/O, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

inline constexpr std::size_t kMaxTargetBytes = 8192;
inline constexpr std::size_t kMaxQueryParams = 64;

struct HttpTarget {
  std::string path;                                         // percent-decoded; never contains NUL
  std::vector<std::pair<std::string, std::string>> params;  // in order, decoded ('+' is a space)

  // The first value of `name`, if given.
  std::optional<std::string> get(std::string_view name) const;
  // Every value of `name`, each also split at commas ("types=LORA,VAE" and
  // "types=LORA&types=VAE" mean the same), empty items dropped.
  std::vector<std::string> all(std::string_view name) const;
  // The path's segments after `prefix` ("/api/v1/models/12" less
  // "/api/v1/models" is {"12"}); nullopt when the path does not start with it.
  std::optional<std::vector<std::string>> segments_after(std::string_view prefix) const;
};

// Errors (ErrorCode::invalid_argument): a target that is not origin-form
// ("/..."), longer than kMaxTargetBytes, with a bad or NUL percent escape,
// or with more than kMaxQueryParams parameters.
Result<HttpTarget> parse_target(std::string_view target);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`); nullopt on
// a malformed escape or a decoded NUL.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// Escapes everything but unreserved characters (RFC 3986), for building URLs.
std::string percent_encode(std::string_view text);

// Parameter readers: nullopt when absent; an error naming the parameter
// when present but not what it should be.
Result<std::optional<std::uint64_t>> integer_param(const HttpTarget& target, std::string_view name, std::uint64_t min,
                                                   std::uint64_t max);
Result<std::optional<bool>> bool_param(const HttpTarget& target, std::string_view name);

// A byte range of a body of `size` bytes asked for with a Range header
// ("bytes=0-99", "bytes=100-", "bytes=-100"). nullopt: serve it all (no
// header, several ranges, or a form not understood, as RFC 9110 allows);
// `unsatisfiable`: answer 416.
struct ByteRange {
  std::uint64_t first = 0, last = 0;  // inclusive
  bool unsatisfiable = false;
};
std::optional<ByteRange> parse_range(std::string_view header, std::uint64_t size);

}  // namespace seedbank::protocol
