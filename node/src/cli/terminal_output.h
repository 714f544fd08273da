// What the command line prints passes through a filter that keeps a
// terminal from running what peers and files put in text: names,
// descriptions, reasons and file metadata reach `releases`, `resolve`,
// `inspect`, `status` and every other human-readable output, and a name
// holding ESC sequences could set the window title, clear the screen or
// print a fake command. Private to node/.
#pragma once

#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>

namespace seedbank::node::cli {

// A streambuf that writes to `out` with ASCII control characters and DEL
// shown as \u00NN, C1 controls and bidirectional overrides as \uNNNN, and
// bytes that are not UTF-8 as \xNN (protocol::printable_for_terminal);
// newline and tab pass. JSON passes as valid JSON with the same meaning:
// print_json writes valid UTF-8, and \uNNNN is JSON's own spelling of the
// characters rewritten. Bytes go out per line, and at each flush all but an
// unfinished UTF-8 sequence.
class TerminalSafeBuffer : public std::streambuf {
 public:
  explicit TerminalSafeBuffer(std::streambuf* out) : out_(out) {}
  TerminalSafeBuffer(const TerminalSafeBuffer&) = delete;
  TerminalSafeBuffer& operator=(const TerminalSafeBuffer&) = delete;
  ~TerminalSafeBuffer() override;

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  // Writes the pending text up to `end` and keeps the rest.
  void emit(std::size_t end);
  std::streambuf* out_;
  std::string pending_;
  std::mutex mutex_;
};

// For the life of the object, std::cout and std::cerr print through a
// TerminalSafeBuffer; binary output (`record export`) writes to stdout
// through stdio instead. Made once, in main().
class TerminalSafeStreams {
 public:
  TerminalSafeStreams();
  TerminalSafeStreams(const TerminalSafeStreams&) = delete;
  TerminalSafeStreams& operator=(const TerminalSafeStreams&) = delete;
  ~TerminalSafeStreams();

 private:
  TerminalSafeBuffer out_, err_;
  std::streambuf* saved_out_;
  std::streambuf* saved_err_;
};

}  // namespace seedbank::node::cli
