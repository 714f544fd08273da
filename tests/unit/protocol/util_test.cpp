// The bottom layer: HOST:PORT, sizes, and text a terminal may show.
#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/log.h"
#include "seedbank/protocol/util.h"

namespace p = seedbank::protocol;
namespace u = seedbank::protocol::util;

BOOST_AUTO_TEST_SUITE(util_test)

BOOST_AUTO_TEST_CASE(host_port_takes_what_people_write_and_names_what_is_wrong) {
  auto v4 = u::parse_host_port("127.0.0.1:7400");
  BOOST_REQUIRE(v4.ok());
  BOOST_TEST(v4->host == "127.0.0.1");
  BOOST_TEST(v4->port == 7400);
  auto v6 = u::parse_host_port("[::1]:80");
  BOOST_REQUIRE(v6.ok());
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(u::host_port_text(v6->host, v6->port) == "[::1]:80");
  BOOST_TEST(u::parse_host_port("seed.example:6881")->host == "seed.example");
  for (const char* bad : {":80", "host:", "1.2.3.4:99999", "::1:80", "1.2.3.4", "[::1:80", "1.2.3.4:8o", "[]:80"}) {
    auto r = u::parse_host_port(bad);
    BOOST_TEST_CONTEXT(bad) {
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST((r.error().code == p::ErrorCode::invalid_argument));
      BOOST_TEST(r.error().message.find("is not HOST:PORT") != std::string::npos);
    }
  }
  BOOST_TEST(!u::parse_host_port("0.0.0.0:0").ok());
  BOOST_TEST(u::parse_host_port("0.0.0.0:0", true).ok());
  BOOST_TEST(u::port_of("127.0.0.1:6881") == 6881);
  BOOST_TEST(u::port_of("nonsense") == 0);
}

BOOST_AUTO_TEST_CASE(sizes_are_shown_in_binary_units) {
  BOOST_TEST(u::human_bytes(0) == "0 bytes");
  BOOST_TEST(u::human_bytes(1) == "1 byte");
  BOOST_TEST(u::human_bytes(1023) == "1023 bytes");
  BOOST_TEST(u::human_bytes(1536) == "1.5 KiB");
  BOOST_TEST(u::human_bytes(16u << 20) == "16.0 MiB");
  BOOST_TEST(u::human_bytes(4ull << 30) == "4.0 GiB");
  BOOST_TEST(u::human_rate(1.5 * (1 << 20)) == "1.5 MiB/s");
}

BOOST_AUTO_TEST_CASE(text_from_peers_cannot_drive_the_terminal) {
  BOOST_TEST(p::printable_for_terminal("plain text, ünïcode") == "plain text, ünïcode");
  BOOST_TEST(p::printable_for_terminal("a\x1b[2Jb\n") == "a\\x1b[2Jb\\x0a");
  BOOST_TEST(p::printable_for_terminal("csi \xc2\x9b"
                                       "31m") == "csi \\u009b31m");            // C1 CSI
  BOOST_TEST(p::printable_for_terminal("x\xe2\x80\xaey") == "x\\u202ey");      // right-to-left override
  BOOST_TEST(p::printable_for_terminal("raw \x9b byte") == "raw \\x9b byte");  // not UTF-8
  std::string line;
  p::Log log(p::LogLevel::info, [&](p::LogLevel, std::string_view component, std::string_view message) {
    line = std::string(component) + ": " + std::string(message);
  });
  log.with_component("gossip").debug("not shown");
  BOOST_TEST(line.empty());
  log.with_component("gossip").info("peer joined");
  BOOST_TEST(line == "gossip: peer joined");
}

BOOST_AUTO_TEST_SUITE_END()
