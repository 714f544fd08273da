#include "terminal_output.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "seedbank/protocol/log.h"

namespace seedbank::node::cli {
namespace {

// Where a flush may cut `text` without splitting a UTF-8 sequence: before
// a lead byte in the last three whose sequence is not complete.
std::size_t complete_prefix(std::string_view text) {
  std::size_t n = text.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    auto b = static_cast<unsigned char>(text[n - back]);
    if ((b & 0xc0) == 0x80) continue;  // continuation byte: look further back
    std::size_t need = (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

}  // namespace

TerminalSafeBuffer::~TerminalSafeBuffer() {
  std::lock_guard lock(mutex_);
  emit(pending_.size());
  out_->pubsync();
}

void TerminalSafeBuffer::emit(std::size_t end) {
  std::string_view text(pending_.data(), end);
  std::string shown;
  shown.reserve(end);
  while (!text.empty()) {
    auto cut = std::find_if(text.begin(), text.end(), [](char c) {
      auto b = static_cast<unsigned char>(c);
      return b < 0x20 || b == 0x7f;
    });
    shown += protocol::printable_for_terminal(text.substr(0, static_cast<std::size_t>(cut - text.begin())));
    if (cut == text.end()) break;
    // ASCII controls as JSON spells them, so a JSON document stays one.
    if (*cut == '\n' || *cut == '\t') {
      shown.push_back(*cut);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(*cut)));
      shown += buf;
    }
    text.remove_prefix(static_cast<std::size_t>(cut - text.begin()) + 1);
  }
  out_->sputn(shown.data(), static_cast<std::streamsize>(shown.size()));
  pending_.erase(0, end);
}

TerminalSafeBuffer::int_type TerminalSafeBuffer::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  char c = traits_type::to_char_type(ch);
  xsputn(&c, 1);
  return ch;
}

std::streamsize TerminalSafeBuffer::xsputn(const char* s, std::streamsize n) {
  std::lock_guard lock(mutex_);
  std::string_view added(s, static_cast<std::size_t>(n));
  pending_.append(added);
  if (auto line_end = added.rfind('\n'); line_end != std::string_view::npos)
    emit(pending_.size() - added.size() + line_end + 1);
  constexpr std::size_t kMaxPending = 64 * 1024;  // a long line still goes out in bounded pieces
  if (pending_.size() > kMaxPending) emit(complete_prefix(pending_));
  return n;
}

int TerminalSafeBuffer::sync() {
  std::lock_guard lock(mutex_);
  emit(complete_prefix(pending_));
  return out_->pubsync();
}

TerminalSafeStreams::TerminalSafeStreams()
    : out_(std::cout.rdbuf()),
      err_(std::cerr.rdbuf()),
      saved_out_(std::cout.rdbuf(&out_)),
      saved_err_(std::cerr.rdbuf(&err_)) {}

TerminalSafeStreams::~TerminalSafeStreams() {
  std::cout.flush();
  std::cerr.flush();
  std::cout.rdbuf(saved_out_);
  std::cerr.rdbuf(saved_err_);
}

}  // namespace seedbank::node::cli
