// A model file streamed to an HTTP client while it downloads
// (node/src/http/file_source.h): bytes are served as the download reports
// them, and the stream follows the file when it moves into the store.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <random>
#include <thread>

#include "../node/src/http/file_source.h"

namespace fs = std::filesystem;
using seedbank::node::DownloadWatch;
using seedbank::node::FileSource;
using seedbank::node::TorrentService;

namespace {

struct Download {
  fs::path dir = fs::temp_directory_path() / ("seedbank-file-source-" + std::to_string(std::random_device{}()));
  fs::path partial = dir / "partial" / "0";
  fs::path stored = dir / "store" / "ab" / "abcdef";
  std::string bytes;
  std::shared_ptr<DownloadWatch> watch = std::make_shared<DownloadWatch>();
  // What the node thread would report at the next refresh.
  TorrentService::FileProgress next;
  int asks = 0;
  std::uint64_t asked_from = 0;  // where the reader was at the last ask

  Download() {
    fs::create_directories(partial.parent_path());
    fs::create_directories(stored.parent_path());
    std::mt19937 rng(7);
    for (int i = 0; i < 300 * 1024; ++i) bytes.push_back(static_cast<char>(rng()));
    std::ofstream(partial, std::ios::binary) << bytes;
    next.path = partial;
    next.size = bytes.size();
  }
  ~Download() { fs::remove_all(dir); }

  // The refresh job, run at once (the node thread posts it): it takes the
  // watch's mutex, as the real one does.
  std::shared_ptr<FileSource> streaming() {
    return std::make_shared<FileSource>(bytes.size(), watch, [this] {
      ++asks;
      std::lock_guard lock(watch->mutex);
      asked_from = watch->from;
      watch->asking = false;
      watch->progress = next;
    });
  }

  // Reads [offset, end) as the HTTP server does: a read of 0 bytes is
  // tried again shortly. Stops after `patience` empty reads in a row.
  std::string read_all(FileSource& source, std::uint64_t offset, std::uint64_t end, int patience = 30) {
    std::string out;
    char buffer[64 * 1024];
    int empty = 0;
    while (offset < end && empty < patience) {
      auto n = source.read(offset, buffer, std::min<std::uint64_t>(sizeof buffer, end - offset));
      if (!n.ok()) BOOST_FAIL(n.error().message);
      if (*n == 0) {
        ++empty;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      empty = 0;
      out.append(buffer, *n);
      offset += *n;
    }
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(file_source_test, Download)

BOOST_AUTO_TEST_CASE(serves_what_has_arrived_and_then_the_rest) {
  auto source = streaming();
  next.ready = 64 * 1024;
  auto first = read_all(*source, 0, bytes.size(), 10);
  BOOST_TEST(first == bytes.substr(0, 64 * 1024));  // no further than the download reported
  next.ready = bytes.size();
  auto rest = read_all(*source, first.size(), bytes.size());
  BOOST_TEST((first + rest == bytes));
}

BOOST_AUTO_TEST_CASE(follows_a_file_that_moved_into_the_store_after_it_was_reported_complete) {
  // The last report says every byte is ready in the partial file; by the
  // time the client reads, the file has been verified and renamed. The
  // stream must find it in the store, not wait for the partial file.
  next.ready = bytes.size();
  {
    std::lock_guard lock(watch->mutex);
    watch->progress = next;
  }
  auto source = streaming();
  fs::rename(partial, stored);
  next.path = stored;
  next.stored = true;
  auto got = read_all(*source, 0, bytes.size());
  BOOST_TEST(got.size() == bytes.size());
  BOOST_TEST((got == bytes));
  BOOST_TEST(asks >= 1);
  BOOST_TEST(source->available() == bytes.size());
}

BOOST_AUTO_TEST_CASE(tells_the_node_where_the_reader_is) {
  // A Range request in the middle of a file arriving rarest-first: the
  // node is asked about the bytes from there (it asks peers for those
  // pieces first), and the reader gets them once the report says so.
  auto source = streaming();
  const std::uint64_t from = 200 * 1024;
  next.ready = 100 * 1024;  // a run before the reader: nothing for it yet
  char buffer[4096];
  auto n = source->read(from, buffer, sizeof buffer);
  BOOST_REQUIRE(n.ok());
  BOOST_TEST(*n == 0u);
  BOOST_TEST(asks == 1);
  BOOST_TEST(asked_from == from);
  next.ready = bytes.size();
  auto rest = read_all(*source, from, bytes.size());
  BOOST_TEST((rest == bytes.substr(from)));
}

BOOST_AUTO_TEST_CASE(follows_a_file_renamed_while_open) {
  next.ready = 100 * 1024;
  auto source = streaming();
  auto first = read_all(*source, 0, 100 * 1024);
  BOOST_REQUIRE_EQUAL(first.size(), 100u * 1024);
  fs::rename(partial, stored);
  next = {stored, bytes.size(), bytes.size(), bytes.size(), true, ""};
  auto rest = read_all(*source, first.size(), bytes.size());
  BOOST_TEST((first + rest == bytes));
}

BOOST_AUTO_TEST_CASE(asks_the_node_again_only_until_the_bytes_are_found) {
  // The report says every byte is ready, but the disk holds only the first
  // half yet: the read there finds nothing and asks again. Once the bytes
  // are on disk, reads below the reported end need no more reports (each
  // one costs a job on the node thread).
  const std::size_t half = bytes.size() / 2;
  std::ofstream(partial, std::ios::binary | std::ios::trunc) << bytes.substr(0, half);
  next.ready = bytes.size();
  auto source = streaming();
  auto head = read_all(*source, 0, half);
  BOOST_REQUIRE_EQUAL(head.size(), half);
  char buffer[4096];
  auto n = source->read(half, buffer, sizeof buffer);
  BOOST_REQUIRE(n.ok());
  BOOST_TEST(*n == 0u);
  std::ofstream(partial, std::ios::binary | std::ios::trunc) << bytes;
  int before = asks;
  std::string rest;
  for (int i = 0; i < 8; ++i) {  // slow reads: a new report may be asked for every 100 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    rest += read_all(*source, half + rest.size(), std::min(bytes.size(), half + rest.size() + sizeof buffer));
  }
  BOOST_TEST(rest == bytes.substr(half, rest.size()));
  BOOST_TEST(rest.size() == 8 * sizeof buffer);
  BOOST_TEST(asks - before <= 1);
}

BOOST_AUTO_TEST_CASE(a_download_that_failed_ends_the_stream_with_its_reason) {
  next.ready = 0;
  next.error = "its SHA-256 does not match the signed release";
  auto source = streaming();
  char buffer[16];
  seedbank::protocol::Result<std::size_t> n = std::size_t{0};
  for (int i = 0; i < 30 && n.ok() && *n == 0; ++i) {
    n = source->read(0, buffer, sizeof buffer);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST(n.error().message.find("does not match") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_stored_file_is_read_and_a_truncated_one_is_an_error) {
  fs::rename(partial, stored);
  FileSource whole(stored, bytes.size());
  BOOST_TEST((read_all(whole, 0, bytes.size()) == bytes));
  fs::resize_file(stored, 1000);
  FileSource cut(stored, bytes.size());
  char buffer[4096];
  auto n = cut.read(1000, buffer, sizeof buffer);
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST(n.error().message.find("shorter than its release says") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
