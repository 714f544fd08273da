// UTF-8 helpers shared by every parser of untrusted text.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"

namespace seedbank::protocol {

inline std::string_view as_chars(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Length of the well-formed UTF-8 sequence at s[at], or 0 when there is none
// (overlong forms, surrogates and values past U+10FFFF are ill-formed).
std::size_t utf8_sequence_length(std::string_view s, std::size_t at);

bool valid_utf8(std::string_view text);

// Appends code point `cp` (at most U+10FFFF) encoded as UTF-8.
void append_utf8(std::string& out, char32_t cp);

// `text` with every ill-formed byte replaced by U+FFFD.
std::string sanitize_utf8(std::string_view text);

// Whether JSON text nests arrays and objects at most `max_depth` deep (the
// text need not be valid JSON). Untrusted JSON is checked with it before a
// recursive parser sees it, so hostile input cannot exhaust the stack.
bool json_depth_at_most(std::string_view json, int max_depth);

}  // namespace seedbank::protocol
