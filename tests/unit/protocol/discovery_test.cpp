#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/discovery.h"
#include "seedbank/protocol/keys.h"
#include "support/require_ok.h"

using namespace seedbank::protocol;

BOOST_AUTO_TEST_SUITE(discovery_test)

BOOST_AUTO_TEST_CASE(each_network_has_its_own_rendezvous_key) {
  // Every node must derive the same key: pin it (docs/protocol.md).
  BOOST_TEST(to_hex(rendezvous_key("main")) == to_hex(rendezvous_key("main")));
  BOOST_TEST(to_hex(rendezvous_key("main")) != to_hex(rendezvous_key("test")));
  BOOST_TEST(to_hex(rendezvous_key("a")) != to_hex(rendezvous_key("b")));
  // SHA-1("seedbank/rendezvous/v1\0main"), computed independently with
  // `printf 'seedbank/rendezvous/v1\0main' | sha1sum`.
  BOOST_TEST(to_hex(rendezvous_key("main")) == "96045ddd58cf01d2423dcc13737536856686be48");
}

BOOST_AUTO_TEST_CASE(a_beacon_round_trips) {
  LanBeacon b{rendezvous_key("test"), 7400, SecretKey::generate().public_key().to_text()};
  auto text = encode_lan_beacon(b);
  BOOST_TEST(text.size() <= kMaxLanBeaconBytes);
  auto back = parse_lan_beacon(text);
  SB_REQUIRE_OK(back);
  BOOST_TEST((back->key == b.key));
  BOOST_TEST(back->gossip_port == 7400);
  BOOST_TEST(back->node_id == b.node_id);
}

BOOST_AUTO_TEST_CASE(bad_beacons_say_what_is_wrong) {
  auto key = to_hex(rendezvous_key("test"));
  auto id = SecretKey::generate().public_key().to_text();
  struct Case {
    std::string text, expect;
  };
  for (const auto& c : std::vector<Case>{
           {"", "does not start with SBLAN1"},
           {"BT-SEARCH * HTTP/1.1\r\n", "does not start with SBLAN1"},
           {"SBLAN1 " + key + " 7400 " + id, "not one line"},
           {"SBLAN1 zz 7400 " + id + "\n", "rendezvous key"},
           {"SBLAN1 " + key + " 0 " + id + "\n", "gossip port"},
           {"SBLAN1 " + key + " 65536 " + id + "\n", "gossip port"},
           {"SBLAN1 " + key + " 74x0 " + id + "\n", "gossip port"},
           {"SBLAN1 " + key + " 7400 sbpk1nope\n", "node id"},
           {"SBLAN1 " + key + " 7400 " + id + " extra\n", "node id"},
           {"SBLAN1 " + key + " 7400 " + id + std::string(300, ' ') + "\n", "longer than"},
       }) {
    auto r = parse_lan_beacon(c.text);
    BOOST_REQUIRE_MESSAGE(!r, c.text);
    BOOST_TEST(r.error().message.find(c.expect) != std::string::npos, r.error().message);
    BOOST_TEST((r.error().code == ErrorCode::malformed));
  }
}

BOOST_AUTO_TEST_SUITE_END()
