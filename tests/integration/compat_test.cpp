// Nodes of different versions on one network (docs/protocol.md, "Forward
// compatibility"): a newer peer, played here by a wire client, sends a
// record of a kind this version does not know. The node keeps the session,
// stores and relays the record, and reconciliation carries it to nodes that
// join later.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "support/future_records.h"
#include "support/http_client.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_records.h"
#include "support/wire_client.h"

using namespace seedbank;
using seedbank::testing::Net;
using seedbank::testing::records_message;
using seedbank::testing::WireClient;

BOOST_FIXTURE_TEST_SUITE(compat_test, Net)

BOOST_AUTO_TEST_CASE(a_record_of_a_kind_from_the_future_is_kept_relayed_and_its_sender_not_banned) {
  std::string a, b, c;
  auto na = start("a", {}, &a);
  auto nb = start("b", {a}, &b);
  BOOST_REQUIRE(eventually([&] {
    return nlohmann::json::parse(sb("a", {"peers", "--json"}).out)["peers"].size() == 1u;
  }));

  auto newer = protocol::SecretKey::generate();  // the newer node
  auto creator = protocol::SecretKey::generate();
  auto draft = testing::sample_release(1);
  auto now = testing::now_ms();
  auto release = testing::sign_release(creator, draft, now - 2000);
  auto release_id = protocol::record_id_of(release);
  auto mirror = testing::sign_mirror(newer, release_id, now - 1000);
  auto mirror_id = protocol::to_hex(protocol::record_id_of(mirror));

  WireClient peer(a);
  BOOST_REQUIRE(peer.handshake(newer));
  BOOST_REQUIRE(peer.send_frame(records_message({mirror})));
  // A node that refused it as malformed would cut the session and ban the key.
  BOOST_TEST(!peer.closed_within(std::chrono::seconds(3)), na->err());
  BOOST_TEST(eventually([&] { return has("a", mirror_id); }), "a did not keep the record of an unknown kind");
  BOOST_TEST(eventually([&] { return has("b", mirror_id); }), "a did not relay the record of an unknown kind");

  // An honest record sent after it on the same session arrives and is indexed.
  BOOST_REQUIRE(peer.send_frame(records_message({release})));
  BOOST_TEST(eventually([&] { return has("b", protocol::to_hex(release_id)); }));
  auto by_hash = [&](const std::string& node) {
    return testing::http_get(http[node], "/api/v1/model-versions/by-hash/" + protocol::to_hex(draft.files[0].sha256));
  };
  BOOST_TEST(eventually([&] { return by_hash("b").status == 200; }), "b did not index the release");
  BOOST_TEST(by_hash("a").status == 200);

  // The newer node is still a peer of a; nobody was banned.
  auto peers = nlohmann::json::parse(sb("a", {"peers", "--json"}).out);
  BOOST_TEST(peers["bans"].get<int>() == 0);
  bool listed = false;
  for (const auto& p : peers["peers"])
    listed = listed || (p["nodeId"] == newer.public_key().to_text() && p["recordsIn"].get<int>() == 2);
  BOOST_TEST(listed, peers.dump());
  BOOST_TEST(na->err().find("sent an invalid record") == std::string::npos, na->err());

  // Never shown: the gallery lists the release alone.
  auto models = testing::http_get(http["b"], "/api/v1/models");
  BOOST_REQUIRE_EQUAL(models.status, 200);
  BOOST_TEST(nlohmann::json::parse(models.body)["items"].size() == 1u);

  // Asked for it by id, a node says it cannot use it yet.
  auto fetched = sb("b", {"fetch", mirror_id});
  BOOST_TEST(fetched.exit_code != 0);
  BOOST_TEST(fetched.err.find("of a kind this version of seedbank does not know") != std::string::npos, fetched.err);

  // A node that joins later gets both by set reconciliation, and the
  // reconciliation converges: every node holds the same two records.
  auto nc = start("c", {b}, &c);
  BOOST_TEST(eventually([&] { return records("c") == 2u; }), "c has " << records("c") << " records of 2");
  BOOST_TEST(has("c", mirror_id));
  BOOST_TEST(records("a") == 2u);
  BOOST_TEST(records("b") == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
