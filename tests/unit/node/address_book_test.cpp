// The address book's dialling policy for addresses found on the DHT, where
// anyone can announce anything under the rendezvous key.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "gossip/address_book.h"
#include "gossip/endpoint.h"

namespace g = seedbank::node::gossip;
using g::Clock;

namespace {

std::vector<std::string> dial_round(g::AddressBook& book, Clock::time_point now, std::mt19937_64& rng,
                                    std::size_t slots) {
  auto c = book.candidates(
      now, [](const std::string&) { return false; }, rng);
  if (c.size() > slots) c.resize(slots);
  for (const auto& a : c) book.dialling(a, now);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address_book_test)

BOOST_AUTO_TEST_CASE(a_stranger_announcing_many_addresses_gets_one_dial_per_range_and_a_capped_rate) {
  g::AddressBook book({}, std::chrono::seconds(600));
  std::mt19937_64 rng(7);
  // 200 addresses from one /16 (one operator), and 3 honest nodes elsewhere.
  for (int i = 0; i < 200; ++i)
    BOOST_TEST(
        book.discovered("198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":7400", g::Source::dht));
  for (const auto* honest : {"203.0.113.5:7400", "192.0.2.77:7400", "100.64.3.2:7400"})
    BOOST_TEST(book.discovered(honest, g::Source::dht));
  BOOST_TEST(!book.discovered("203.0.113.5:7400", g::Source::dht));  // not new

  auto now = Clock::now();
  auto first = book.candidates(
      now, [](const std::string&) { return false; }, rng);
  // One address of 198.51.0.0/16 per round, beside each honest node's.
  std::size_t attacker = 0;
  for (const auto& a : first) attacker += a.rfind("198.51.", 0) == 0;
  BOOST_TEST(attacker == 1u);
  BOOST_TEST(first.size() == 4u);

  // Round after round, at most kDhtDialsPerMinute dials of unproven DHT
  // addresses a minute.
  std::size_t dialled = 0;
  for (int s = 0; s < 60; ++s) dialled += dial_round(book, now + std::chrono::seconds(s), rng, 4).size();
  BOOST_TEST(dialled <= g::kDhtDialsPerMinute);
  BOOST_TEST(dialled >= 3u);
  // A minute later the budget is back.
  BOOST_TEST(!dial_round(book, now + std::chrono::seconds(61), rng, 4).empty());
}

BOOST_AUTO_TEST_CASE(unproven_discovered_addresses_cannot_crowd_out_the_rest) {
  g::AddressBook book({}, std::chrono::seconds(600));
  std::size_t taken = 0;
  for (int i = 0; i < 1000; ++i)
    taken +=
        book.discovered("198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":7400", g::Source::dht);
  BOOST_TEST(taken == g::kMaxUnprovenDiscovered);
  // Addresses peers name still go in.
  book.remember("203.0.113.1:7400", "", false, 1000);
  BOOST_TEST(book.contains("203.0.113.1:7400"));
  // One that failed makes room for a new one.
  book.failed("198.51.0.3:7400");
  BOOST_TEST(book.discovered("192.0.2.8:7400", g::Source::lan));
  BOOST_TEST(!book.contains("198.51.0.3:7400"));
}

BOOST_AUTO_TEST_CASE(nodes_that_worked_come_first_and_local_networks_are_exempt) {
  g::AddressBook book({}, std::chrono::seconds(600));
  std::mt19937_64 rng(3);
  for (int i = 1; i <= 40; ++i) book.discovered("127.0.0.1:" + std::to_string(7000 + i), g::Source::dht);
  book.discovered("192.168.1.9:7400", g::Source::lan);
  book.remember("203.0.113.9:7400", "", true, 1000, g::Source::dht);  // a session with it worked
  auto c = book.candidates(
      Clock::now(), [](const std::string&) { return false; }, rng);
  BOOST_REQUIRE(!c.empty());
  BOOST_TEST(c.front() == "203.0.113.9:7400");
  // Loopback addresses are exempt from the range rule: all may be dialled
  // (within the per-minute cap), as many nodes on one host is normal there.
  std::size_t loopback = 0;
  for (const auto& a : c) loopback += a.rfind("127.0.0.1:", 0) == 0;
  // (The LAN address shares the budget.)
  auto lan = static_cast<std::size_t>(std::count(c.begin(), c.end(), "192.168.1.9:7400"));
  BOOST_TEST(loopback + lan == g::kDhtDialsPerMinute);
}

BOOST_AUTO_TEST_CASE(failing_dht_addresses_back_off_and_are_not_saved) {
  auto dir = std::filesystem::temp_directory_path() / ("sb-book-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    g::AddressBook book(dir / "peers.json", std::chrono::seconds(600));
    std::mt19937_64 rng(5);
    book.discovered("198.51.100.1:7400", g::Source::dht);  // fails the handshake
    book.discovered("203.0.113.1:7400", g::Source::dht);   // honest
    auto now = Clock::now();
    std::size_t bad_dials = 0, honest_dials = 0;
    for (int s = 0; s < 60; ++s) {
      auto t = now + std::chrono::seconds(s);
      auto c = book.candidates(
          t, [](const std::string&) { return false; }, rng);
      // Once it worked, the honest node is dialled before anything unproven.
      if (honest_dials > 0 && std::find(c.begin(), c.end(), "203.0.113.1:7400") != c.end())
        BOOST_TEST(c.front() == "203.0.113.1:7400");
      for (const auto& a : c) {
        book.dialling(a, t);
        if (a == "198.51.100.1:7400") {
          ++bad_dials;
          book.failed(a);
        } else {
          ++honest_dials;
          book.remember(a, "", true, 1000 + s);
        }
      }
    }
    // 1, 2, 4, 8, 16, 32 s apart: six tries in a minute, not sixty.
    BOOST_TEST(bad_dials <= 7u);
    BOOST_TEST(honest_dials >= 10u);
    BOOST_TEST(std::string(g::to_string(*book.source_of("203.0.113.1:7400"))) == "dht");
    book.save();
  }
  std::ifstream in(dir / "peers.json");
  std::string saved((std::istreambuf_iterator<char>(in)), {});
  BOOST_TEST(saved.find("203.0.113.1:7400") != std::string::npos);
  BOOST_TEST(saved.find("198.51.100.1") == std::string::npos);
  g::AddressBook loaded(dir / "peers.json", std::chrono::seconds(600));
  loaded.load();
  BOOST_TEST(std::string(g::to_string(*loaded.source_of("203.0.113.1:7400"))) == "peers.json");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(address_ranges) {
  auto range = [](const char* a) { return g::address_range(boost::asio::ip::make_address(a)); };
  BOOST_TEST(range("198.51.100.7") == "198.51.0.0/16");
  BOOST_TEST(range("::ffff:198.51.3.4") == "198.51.0.0/16");
  BOOST_TEST(range("2001:db8:aa::1") == "2001:0db8::/32");
  BOOST_TEST(range("127.0.0.1") == "127.0.0.1");
  BOOST_TEST(range("10.1.2.3") == "10.1.2.3");
  BOOST_TEST(range("172.20.0.1") == "172.20.0.1");
  BOOST_TEST(range("172.32.0.1") == "172.32.0.0/16");
  BOOST_TEST(range("fd00::2") == "fd00::2");
  BOOST_TEST(range("fe80::1") == "fe80::1");
}

BOOST_AUTO_TEST_SUITE_END()
