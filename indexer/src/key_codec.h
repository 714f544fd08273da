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

// Words: runs of ASCII letters and digits or non-ASCII bytes, case-folded.
inline bool is_word_byte(char c) {
  return static_cast<unsigned char>(c) >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}
inline char fold(char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); }

// Calls `visit` with each word of `text` in order, until it returns false.
template <class Visit>
void each_word(std::string_view text, Visit&& visit) {
  std::string cur;
  for (char c : text) {
    if (is_word_byte(c)) {
      cur += fold(c);
    } else if (!cur.empty()) {
      if (!visit(std::move(cur))) return;
      cur.clear();
    }
  }
  if (!cur.empty()) visit(std::move(cur));
}

// The distinct words among the first `max_words` words of at least
// `min_len` bytes, each cut to `max_len`, in the order they appear.
inline std::vector<std::string> first_words(std::string_view text, std::size_t max_words, std::size_t min_len,
                                            std::size_t max_len = 32) {
  std::vector<std::string> out;
  std::size_t seen = 0;
  each_word(text, [&](std::string&& word) {
    if (word.size() < min_len) return true;
    word.resize(std::min(word.size(), max_len));
    if (std::find(out.begin(), out.end(), word) == out.end()) out.push_back(std::move(word));
    return ++seen < max_words;
  });
  return out;
}

// How `w` (a word) finds `text`: 2 when it is one of the first `max_words`
// words of at least `min_len` bytes (each cut to `max_len`), 1 when it
// starts one, 0 otherwise. The same words as words() and first_words(),
// without building them.
inline unsigned word_match(std::string_view text, std::string_view w, std::size_t max_words, std::size_t min_len = 1,
                           std::size_t max_len = 32) {
  unsigned best = 0;
  std::size_t seen = 0, len = 0;
  bool prefix = true;  // the word so far agrees with w
  auto flush = [&] {
    if (len >= min_len) {
      ++seen;
      const std::size_t kept = std::min(len, max_len);
      if (prefix && kept >= w.size()) best = std::max(best, kept == w.size() ? 2u : 1u);
    }
    len = 0;
    prefix = true;
  };
  for (char c : text) {
    if (is_word_byte(c)) {
      if (len < w.size() && (len >= max_len || w[len] != fold(c))) prefix = false;
      ++len;
    } else {
      flush();
      if (seen >= max_words || best == 2) return best;
    }
  }
  flush();
  return best;
}

// The first `max_words` words of a name, each cut to `max_len`, sorted,
// each once.
inline std::vector<std::string> words(std::string_view text, std::size_t max_words = 16, std::size_t max_len = 32) {
  std::vector<std::string> out;
  each_word(text, [&](std::string&& word) {
    if (out.size() == max_words) return false;
    word.resize(std::min(word.size(), max_len));
    out.push_back(std::move(word));
    return true;
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace seedbank::indexer::keys
