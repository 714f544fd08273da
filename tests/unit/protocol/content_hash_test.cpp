// Known answers for every content hash, from tests/fixtures/hash_vectors.json
// (made by make_hash_vectors.py with Python's hashlib and zlib), and a
// cross-check of the torrent hashes against libtorrent's own create_torrent.
#include <boost/test/unit_test.hpp>

#include <libtorrent/create_torrent.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/file_storage.hpp>
#include <nlohmann/json.hpp>
#include "support/require_ok.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/crc32.h"

namespace fs = std::filesystem;
using namespace seedbank::protocol;

namespace {

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(i * 2654435761u) >> 13);
  return out;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("seedbank-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

fs::path write_file(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

nlohmann::json vectors() {
  std::ifstream in(fs::path(SEEDBANK_FIXTURES_DIR) / "hash_vectors.json");
  return nlohmann::json::parse(in);
}

std::vector<std::uint8_t> case_bytes(const nlohmann::json& c) {
  if (c["kind"] == "pattern") return pattern(c["size"].get<std::size_t>());
  auto head = *from_hex(c["header_hex"].get<std::string>());
  auto body = pattern(c["data_len"].get<std::size_t>());
  head.insert(head.end(), body.begin(), body.end());
  return head;
}

void check_case(const nlohmann::json& c, const FileDigests& d) {
  BOOST_TEST_CONTEXT(c["name"].get<std::string>()) {
    BOOST_TEST(d.size == c["size"].get<std::uint64_t>());
    BOOST_TEST(d.sha256_hex() == c["SHA256"].get<std::string>());
    BOOST_TEST(d.autov2_hex() == c["AutoV2"].get<std::string>());
    BOOST_TEST(d.autov1_hex() == c["AutoV1"].get<std::string>());
    BOOST_TEST(d.crc32_hex() == c["CRC32"].get<std::string>());
    if (c["piecesRoot"].is_null()) {
      BOOST_TEST(!d.pieces_root.has_value());
    } else {
      BOOST_REQUIRE(d.pieces_root.has_value());
      BOOST_TEST(to_hex(*d.pieces_root) == c["piecesRoot"].get<std::string>());
    }
    if (c.contains("AutoV3")) {
      BOOST_REQUIRE(d.autov3.has_value());
      BOOST_TEST(d.autov3_hex() == c["AutoV3"].get<std::string>());
      BOOST_TEST(to_hex_upper(*d.autov3) == c["AutoV3Full"].get<std::string>());
    } else {
      BOOST_TEST(!d.autov3.has_value());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(content_hash_test)

BOOST_AUTO_TEST_CASE(file_hashes_match_python_vectors_on_one_and_two_threads) {
  TempDir dir;
  const auto all = vectors();
  for (const auto& c : all["cases"]) {
    auto path = write_file(dir.path / "f.bin", case_bytes(c));
    for (unsigned threads : {1u, 2u}) {
      HashOptions options;
      options.threads = threads;
      auto d = hash_file(path, options);
      SB_REQUIRE_OK(d);
      check_case(c, *d);
    }
  }
}

BOOST_AUTO_TEST_CASE(memory_hashes_match_python_vectors) {
  const auto all = vectors();
  for (const auto& c : all["cases"]) {
    auto bytes = case_bytes(c);
    check_case(c, hash_bytes(bytes));
  }
}

BOOST_AUTO_TEST_CASE(sha256_matches_openssl_command_line) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) return;  // not installed: vectors still cover it
  TempDir dir;
  auto path = write_file(dir.path / "x.bin", pattern(3 * 1024 * 1024 + 3));
  std::string cmd = "openssl dgst -sha256 -r '" + path.string() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p);
  char buf[128] = {};
  BOOST_REQUIRE(std::fgets(buf, sizeof buf, p));
  ::pclose(p);
  auto d = hash_file(path);
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(std::string(buf, 64) == to_hex(d->sha256));
}

BOOST_AUTO_TEST_CASE(piece_layer_and_v1_pieces_match_libtorrent) {
  TempDir dir;
  // Sizes around piece and chunk boundaries; piece sizes below, at and above
  // the 4 MiB internal chunk.
  const std::pair<std::size_t, std::uint64_t> cases[] = {
      {5 * 1024 * 1024 + 7, 64 * 1024},
      {9 * 1024 * 1024, 1024 * 1024},
      {9 * 1024 * 1024 + 1, 8 * 1024 * 1024},
      {100 * 1024, 16 * 1024},
      {20 * 1024, 32 * 1024},
      {20 * 1024, 64 * 1024},
      {100 * 1024, 1024 * 1024},
      {3 * 1024 * 1024, 4 * 1024 * 1024},
  };
  for (auto [size, piece] : cases) {
    BOOST_TEST_CONTEXT("size " << size << " piece " << piece) {
      auto path = write_file(dir.path / "model.bin", pattern(size));
      HashOptions options;
      options.piece_size = piece;
      options.v1_pieces = true;
      auto d = hash_file(path, options);
      BOOST_REQUIRE(d.ok());

      lt::file_storage v2fs;
      lt::add_files(v2fs, path.string());
      lt::create_torrent v2(v2fs, static_cast<int>(piece), lt::create_torrent::v2_only);
      lt::set_piece_hashes(v2, dir.path.string());
      lt::entry v2e = v2.generate();
      std::string root = v2e["info"]["file tree"]["model.bin"][""]["pieces root"].string();
      BOOST_TEST(to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(root.data()), root.size())) ==
                 to_hex(*d->pieces_root));
      std::string layer;
      if (size > piece) layer = v2e["piece layers"][root].string();
      std::string ours;
      for (const auto& h : d->piece_layer) ours.append(reinterpret_cast<const char*>(h.data()), h.size());
      BOOST_TEST(to_hex(as_bytes(ours)) == to_hex(as_bytes(layer)));

      lt::file_storage v1fs;
      lt::add_files(v1fs, path.string());
      lt::create_torrent v1(v1fs, static_cast<int>(piece), lt::create_torrent::v1_only);
      lt::set_piece_hashes(v1, dir.path.string());
      lt::entry v1e = v1.generate();
      std::string pieces = v1e["info"]["pieces"].string();
      std::string ours1;
      for (const auto& h : d->v1_pieces) ours1.append(reinterpret_cast<const char*>(h.data()), h.size());
      BOOST_TEST(to_hex(as_bytes(ours1)) == to_hex(as_bytes(pieces)));
    }
  }
}

BOOST_AUTO_TEST_CASE(padded_last_v1_piece_hashes_zeros) {
  auto bytes = pattern(40000);
  HashOptions options;
  options.piece_size = 32768;
  options.v1_pieces = true;
  options.pad_last_v1_piece = true;
  auto d = hash_bytes(bytes, options);
  BOOST_REQUIRE_EQUAL(d.v1_pieces.size(), 2u);
  std::vector<std::uint8_t> padded(bytes.begin() + 32768, bytes.end());
  padded.resize(32768, 0);
  lt::hasher h(reinterpret_cast<const char*>(padded.data()), static_cast<int>(padded.size()));
  auto expect = h.final();
  BOOST_TEST(to_hex(d.v1_pieces[1]) == to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(expect.data()), 20)));
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_and_the_problem) {
  auto missing = hash_file("/nonexistent/seedbank/model.safetensors");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST((missing.error().code == ErrorCode::not_found));
  BOOST_TEST(missing.error().message.find("model.safetensors") != std::string::npos);

  TempDir dir;
  auto not_file = hash_file(dir.path);
  BOOST_REQUIRE(!not_file.ok());
  BOOST_TEST(not_file.error().message.find("not a regular file") != std::string::npos);

  auto path = write_file(dir.path / "a.bin", pattern(10));
  HashOptions bad;
  bad.piece_size = 3000;
  auto r = hash_file(path, bad);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.find("power of two") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(autov3_only_for_safetensors_layout) {
  // A header length that points past the end, or no '{', means no AutoV3.
  std::vector<std::uint8_t> not_st = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
  BOOST_TEST(!safetensors_data_offset(not_st, not_st.size()).has_value());
  std::vector<std::uint8_t> st = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}', 1, 2};
  BOOST_TEST(safetensors_data_offset(st, st.size()).value() == 10u);
  BOOST_TEST(hash_bytes(st).autov3.has_value());
  BOOST_TEST(!hash_bytes(not_st).autov3.has_value());
}

BOOST_AUTO_TEST_CASE(crc32_matches_zlib_at_every_length_and_alignment) {
  auto bytes = pattern(4096 + 64);
  for (std::size_t len = 0; len < 1100; ++len)
    for (std::size_t off = 0; off < 16; ++off)
      for (std::uint32_t start : {0u, 0xdeadbeefu}) {
        ByteView v(bytes.data() + off, len);
        BOOST_TEST_REQUIRE(crc32_update(start, v) == crc32_update_portable(start, v), "len " << len << " off " << off);
      }
  // Chained updates equal one update.
  auto big = pattern(1 << 20);
  std::uint32_t whole = crc32_update(0, big);
  std::uint32_t parts = crc32_update(crc32_update(0, ByteView(big).first(777)), ByteView(big).subspan(777));
  BOOST_TEST(whole == parts);
}

BOOST_AUTO_TEST_SUITE_END()
