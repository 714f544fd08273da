#include <sodium.h>
#include <sys/stat.h>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "seedbank/protocol/keys.h"

using namespace seedbank::protocol;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(keys_test)

BOOST_AUTO_TEST_CASE(rfc8032_test_vector_1) {
  // RFC 8032 section 7.1, TEST 1: empty message.
  auto seed = *from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto key = SecretKey::from_seed(seed);
  BOOST_REQUIRE(key.ok());
  BOOST_TEST(to_hex(key->public_key().bytes) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = key->sign({});
  BOOST_TEST(to_hex(sig) ==
             "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
             "d25bf5f0595bbe24655141438e7a100b");
  BOOST_TEST(verify_signature(key->public_key(), {}, sig));
}

BOOST_AUTO_TEST_CASE(any_flipped_bit_fails_verification) {
  auto key = SecretKey::generate();
  Bytes msg = {'s', 'e', 'e', 'd'};
  auto sig = key.sign(msg);
  BOOST_TEST(verify_signature(key.public_key(), msg, sig));
  for (std::size_t i = 0; i < sig.size() * 8; i += 7) {
    auto bad = sig;
    bad[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    BOOST_TEST(!verify_signature(key.public_key(), msg, bad));
  }
  msg[0] ^= 1;
  BOOST_TEST(!verify_signature(key.public_key(), msg, sig));
}

BOOST_AUTO_TEST_CASE(public_key_text_round_trips_and_catches_typos) {
  auto key = SecretKey::generate().public_key();
  std::string text = key.to_text();
  BOOST_TEST(text.rfind("sbpk1", 0) == 0);
  BOOST_TEST(text.size() == 63u);
  BOOST_TEST((PublicKey::from_text(text) == key));
  std::string upper = text;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST((PublicKey::from_text(upper) == key));
  BOOST_TEST((PublicKey::from_text(to_hex(key.bytes)) == key));
  // One changed character anywhere in the data part is detected.
  for (std::size_t i = 5; i < text.size(); ++i) {
    std::string typo = text;
    typo[i] = typo[i] == 'q' ? 'p' : 'q';
    BOOST_TEST(!PublicKey::from_text(typo).has_value(), "typo at " << i);
  }
  BOOST_TEST(!PublicKey::from_text("sbpk1").has_value());
  BOOST_TEST(!PublicKey::from_text("").has_value());
}

BOOST_AUTO_TEST_CASE(bech32_matches_bip173_valid_string) {
  // BIP-173's valid test string "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw":
  // hrp "abcdef", data = the 32 five-bit values 0..31.
  auto decoded = bech32_decode("abcdef", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
  BOOST_REQUIRE(decoded.has_value());
  BOOST_TEST(to_hex(*decoded) == "00443214c74254b635cf84653a56d7c675be77df");
  BOOST_TEST(bech32_encode("abcdef", *decoded) == "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
}

BOOST_AUTO_TEST_CASE(key_file_is_0600_seed_and_loads_back) {
  fs::path dir = fs::temp_directory_path() / ("seedbank-keys-" + std::to_string(std::random_device{}()));
  auto path = dir / "sub" / "creator.key";
  auto key = SecretKey::generate();
  BOOST_REQUIRE(save_secret_key(path, key).ok());
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_TEST(st.st_size == 32);
  auto loaded = load_secret_key(path);
  BOOST_REQUIRE(loaded.ok());
  BOOST_TEST((loaded->public_key() == key.public_key()));

  // Never overwrites an identity by accident.
  auto again = save_secret_key(path, SecretKey::generate());
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST(again.error().message.find("already exists") != std::string::npos);
  BOOST_TEST((load_secret_key(path)->public_key() == key.public_key()));

  // Too open, wrong size, missing: each says what to do.
  ::chmod(path.c_str(), 0644);
  auto open = load_secret_key(path);
  BOOST_REQUIRE(!open.ok());
  BOOST_TEST(open.error().message.find("chmod 600") != std::string::npos);
  ::chmod(path.c_str(), 0600);
  { std::ofstream(path, std::ios::app) << "x"; }
  auto wrong = load_secret_key(path);
  BOOST_REQUIRE(!wrong.ok());
  BOOST_TEST(wrong.error().message.find("32 bytes") != std::string::npos);
  auto missing = load_secret_key(dir / "nope.key");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().message.find("seedbank keygen") != std::string::npos);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
