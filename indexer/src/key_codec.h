// Key encodings of the index's LMDB databases. Private to indexer/.
// docs/architecture.md lists the databases and their keys.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/bytes.h"

namespace seedbank::indexer::keys {

using protocol::Bytes;
using protocol::ByteView;

inline void put_be(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline std::uint64_t get_be(ByteView in, std::size_t offset, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | in[offset + static_cast<std::size_t>(i)];
  return v;
}
inline void append(Bytes& out, ByteView bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }
inline void append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

inline bool starts_with(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin());
}

// ASCII lowercase; other bytes (UTF-8) unchanged.
inline std::string fold_case(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Words of a name: runs of ASCII letters/digits or non-ASCII bytes, case-folded.
inline std::vector<std::string> words(std::string_view text, std::size_t max_words = 16, std::size_t max_len = 32) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty() && out.size() < max_words) out.push_back(cur.substr(0, max_len));
    cur.clear();
  };
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool word = (u >= 0x80) || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (word)
      cur += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    else
      flush();
  }
  flush();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace seedbank::indexer::keys
