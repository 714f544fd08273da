// Gossip between real `seedbank node` processes on 127.0.0.1, and a hostile
// peer written here that speaks the wire protocol.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/message.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/gossip_session.h"
#include "support/http_client.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_records.h"
#include "support/wire_client.h"

namespace fs = std::filesystem;
using namespace seedbank;
using seedbank::testing::Net;
using seedbank::testing::Process;
using seedbank::testing::records_message;
using seedbank::testing::WireClient;

namespace {

std::vector<protocol::Bytes> releases(std::uint64_t first, std::size_t n) {
  return seedbank::testing::sample_releases(first, n);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(gossip_test, Net)

BOOST_AUTO_TEST_CASE(five_nodes_in_a_line_share_a_release_and_a_rating) {
  std::vector<std::unique_ptr<Process>> nodes;
  std::string previous;
  for (int i = 0; i < 5; ++i) {
    std::string address;
    std::vector<std::string> bootstrap;
    if (!previous.empty()) bootstrap.push_back(previous);
    nodes.push_back(start("n" + std::to_string(i), bootstrap, &address, {"--outbound", "1"}));
    previous = address;
  }
  auto release = releases(1, 1);
  auto ids = import("n0", release);
  BOOST_TEST(eventually([&] { return has("n4", ids[0]); }), "the release did not reach the last node");

  auto rater = protocol::SecretKey::generate();
  auto rating =
      seedbank::testing::sign_rating(rater, protocol::record_id_of(release[0]), 4, seedbank::testing::now_ms());
  auto rating_ids = import("n4", {rating});
  BOOST_TEST(eventually([&] { return has("n0", rating_ids[0]); }), "the rating did not reach the first node");

  auto peers = sb("n2", {"peers", "--json"});
  BOOST_REQUIRE_EQUAL(peers.exit_code, 0);
  auto j = nlohmann::json::parse(peers.out);
  BOOST_TEST(j["peers"].size() >= 2u);
  BOOST_TEST(j["nodeId"].get<std::string>().rfind("sbpk1", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(partitions_heal_to_the_union) {
  std::string a1, a2, b1, b2;
  auto na1 = start("a1", {}, &a1);
  auto na2 = start("a2", {a1}, &a2);
  auto nb1 = start("b1", {}, &b1);
  auto nb2 = start("b2", {b1}, &b2);
  import("a2", releases(100, 20));
  import("b2", releases(200, 30));
  BOOST_TEST(eventually([&] { return records("a1") == 20u && records("b1") == 30u; }));
  // Heal: one session across the partition; reconciliation does the rest.
  BOOST_REQUIRE_EQUAL(sb("a1", {"peers", "--add", b1}).exit_code, 0);
  BOOST_TEST(
      eventually(
          [&] { return records("a1") == 50u && records("a2") == 50u && records("b1") == 50u && records("b2") == 50u; }),
      "a1 " << records("a1") << ", a2 " << records("a2") << ", b1 " << records("b1") << ", b2 " << records("b2"));
}

BOOST_AUTO_TEST_CASE(peers_learnt_are_dialled_again_after_a_restart) {
  std::string a, b;
  auto na = start("a", {}, &a);
  {
    auto nb = start("b", {a}, &b);
    BOOST_TEST(eventually([&] {
      return nlohmann::json::parse(sb("a", {"peers", "--json"}).out)["peers"].size() == 1u;
    }));
    nb->signal(SIGTERM);
    BOOST_REQUIRE_EQUAL(nb->wait(std::chrono::seconds(20)), 0);
  }
  BOOST_TEST(fs::exists(dir / "b" / "peers.json"));
  // No --bootstrap this time: b finds a through peers.json.
  auto nb = start("b", {}, &b);
  auto ids = import("a", releases(7000, 1));
  BOOST_TEST(eventually([&] { return has("b", ids[0]); }), "b did not reconnect to a after its restart");
}

BOOST_AUTO_TEST_CASE(a_fresh_node_gets_all_of_10000_records) {
  seed_index("big", releases(1000, 10000));
  std::string big, fresh;
  auto nbig = start("big", {}, &big);
  auto start_time = std::chrono::steady_clock::now();
  auto nfresh = start("fresh", {big}, &fresh);
  BOOST_TEST(eventually([&] { return records("fresh") == 10000u; }, std::chrono::seconds(60)),
             "the fresh node has " << records("fresh") << " of 10000");
  BOOST_TEST_MESSAGE("10,000 records synced in "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count() << " s");
}

BOOST_AUTO_TEST_CASE(a_hostile_peer_is_cut_off_and_banned_while_others_keep_syncing) {
  std::string a, b;
  auto na = start("a", {}, &a);
  auto nb = start("b", {a}, &b);

  // Another network's node fails the handshake.
  {
    WireClient other(a);
    BOOST_TEST(!other.handshake(protocol::SecretKey::generate(), "elsewhere"));
  }
  // Garbage in an authentic frame.
  auto mallory = protocol::SecretKey::generate();
  {
    WireClient c(a);
    BOOST_REQUIRE(c.handshake(mallory));
    protocol::Bytes garbage(333, 0x5a);
    c.send_frame(garbage);
    BOOST_TEST(c.closed_within(std::chrono::seconds(5)));
  }
  // Banned: the same key is refused right after authenticating.
  {
    WireClient c(a);
    c.handshake(mallory);
    BOOST_TEST(c.closed_within(std::chrono::seconds(5)));
  }
  // A record with an invalid signature.
  {
    WireClient c(a);
    BOOST_REQUIRE(c.handshake(protocol::SecretKey::generate()));
    auto bad = releases(5000, 1)[0];
    bad[bad.size() - 1] ^= 1;  // the last byte of the signature
    c.send_frame(records_message({bad}));
    BOOST_TEST(c.closed_within(std::chrono::seconds(5)));
    BOOST_TEST(!has("a", protocol::to_hex(protocol::record_id_of(bad))));
  }
  // A frame header announcing 100 MiB.
  {
    WireClient c(a);
    BOOST_REQUIRE(c.handshake(protocol::SecretKey::generate()));
    std::uint8_t header[4] = {0x06, 0x40, 0x00, 0x00};
    c.send_all(header, 4);
    BOOST_TEST(c.closed_within(std::chrono::seconds(5)));
  }
  // A slowloris: one byte of hello a second, never finishing. Cut off by
  // the handshake deadline (10 s).
  {
    WireClient c(a);
    auto started = std::chrono::steady_clock::now();
    bool closed = false;
    for (int i = 0; i < 20 && !closed; ++i) {
      std::uint8_t byte = 'S';
      c.send_all(&byte, 1);
      closed = c.closed_within(std::chrono::seconds(1));
    }
    BOOST_TEST(closed);
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(15)));
  }
  // A peer that sends an image post, then bytes that are not its image:
  // cut off and banned when they fail their SHA-256; nothing is stored.
  {
    WireClient c(a);
    auto key = protocol::SecretKey::generate();
    BOOST_REQUIRE(c.handshake(key));
    auto release = releases(7000, 1)[0];
    auto release_id = protocol::record_id_of(release);
    protocol::Bytes image(3000, 0x42);
    auto sha = protocol::hash_bytes(image).sha256;
    auto post = protocol::sign_record(
        key, "test", seedbank::testing::now_ms(),
        [&](schema::RecordBody::Builder b) {
          auto p = b.initPayload().initImagePost();
          p.setRelease(capnp::Data::Reader(release_id.data(), release_id.size()));
          auto img = p.initImage();
          img.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
          img.setSize(image.size());
          img.setName("made.png");
          img.setMimeType("image/png");
        },
        seedbank::testing::kTestWorkBits);
    BOOST_REQUIRE(post.ok());
    c.send_frame(records_message({release, *post}));
    bool asked = false;  // the node asks for the image by itself
    for (int i = 0; i < 200 && !asked; ++i) {
      auto frame = c.read_frame();
      if (!frame) break;
      auto m = protocol::gossip::ReceivedMessage::parse(*frame);
      asked = m && m->root().which() == schema::GossipMessage::WANT_BLOB &&
              std::equal(sha.begin(), sha.end(), m->root().getWantBlob().getSha256().begin());
    }
    BOOST_REQUIRE(asked);
    image[0] ^= 1;
    capnp::MallocMessageBuilder m;
    auto blob = m.initRoot<schema::GossipMessage>().initBlob();
    blob.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
    blob.setSize(image.size());
    blob.setData(capnp::Data::Reader(image.data(), image.size()));
    blob.setStatus(schema::BlobStatus::OK);
    c.send_frame(protocol::gossip::encode(m));
    BOOST_TEST(c.closed_within(std::chrono::seconds(5)));
    BOOST_TEST(na->err().find("image whose bytes do not match its SHA-256") != std::string::npos, na->err());
    BOOST_TEST(seedbank::testing::http_get(http["a"], "/api/images/" + protocol::to_hex(sha)).status != 200);
  }
  // Before authenticating, a frame header announcing 4 MiB (the most a
  // session may send later): closed at once, never read, for 200 sockets
  // at a time, and honest peers keep syncing (below). (Last of the bans:
  // past the first few a minute, the log only counts them.)
  {
    std::vector<std::unique_ptr<WireClient>> strangers;
    for (int i = 0; i < 200; ++i) {
      auto c = std::make_unique<WireClient>(a);
      BOOST_REQUIRE(c->hellos(protocol::SecretKey::generate()));
      std::uint8_t header[4] = {0x00, 0x40, 0x00, 0x10};  // 4 MiB + the tag
      c->send_all(header, 4);
      strangers.push_back(std::move(c));
    }
    int closed = 0;
    for (auto& c : strangers) closed += c->closed_within(std::chrono::seconds(2));
    BOOST_TEST(closed == 200);
  }
  // A connection flood: 400 sockets that never say anything. The node
  // refuses what it cannot hold and keeps serving its honest session.
  std::vector<std::unique_ptr<WireClient>> flood;
  for (int i = 0; i < 400; ++i) flood.push_back(std::make_unique<WireClient>(a));
  // Meanwhile the honest session still carries records.
  auto ids = import("b", releases(6000, 3));
  BOOST_TEST(eventually([&] { return has("a", ids[2]); }));
  auto peers = nlohmann::json::parse(sb("a", {"peers", "--json"}).out);
  BOOST_TEST(peers["bans"].get<int>() >= 4);
  BOOST_TEST(peers["peers"].size() <= 256u);  // max_sessions
  flood.clear();
  // The node's memory stayed bounded through all of it.
  std::string status = seedbank::testing::slurp("/proc/" + std::to_string(na->pid()) + "/status");
  std::smatch rss;
  BOOST_REQUIRE(std::regex_search(status, rss, std::regex("VmHWM:\\s+([0-9]+) kB")));
  BOOST_TEST_MESSAGE("node peak RSS " << std::stoul(rss[1]) / 1024 << " MiB");
  BOOST_TEST(std::stoul(rss[1]) < 512u * 1024);
}

// A node whose index fills keeps serving what it holds and keeps its peers;
// a command given a larger --index-size grows the index under it (the node
// adopts the size), and raising indexSize in config.json lets the running
// node grow it itself: it then syncs what it had to drop, and its own
// writes (a reaction from the gallery) go through. Nothing stored is lost.
BOOST_AUTO_TEST_CASE(a_full_index_keeps_serving_and_grows_when_its_size_is_raised) {
  constexpr std::size_t kRecords = 3000;
  seed_index("a", releases(20000, kRecords));
  // b holds some records already (a sync's batch is stored whole or not at
  // all), in an index that was never larger than its limit.
  constexpr std::size_t kSeeded = 100;
  {
    indexer::IndexOptions o;
    o.dir = dir / "b" / "index";
    o.network = "test";
    o.map_size = 1u << 20;
    auto index = indexer::Index::open(o);
    BOOST_REQUIRE(index.ok());
    for (const auto& out : (*index)->ingest_batch(releases(50000, kSeeded)))
      BOOST_REQUIRE_MESSAGE(out.status == indexer::IngestStatus::added, out.error.message);
  }
  std::ofstream(dir / "b" / "config.json") << "{\"indexSize\": 1048576}";
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  std::string a, b;
  auto na = start("a", {}, &a);
  auto nb = start("b", {a}, &b);
  auto index_of = [&] {
    auto r = sb("b", {"status", "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return nlohmann::json::parse(r.out);
  };
  // Full: b stops short of a's records, says why, and stays connected.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return nb->err().find("reached its size limit") != std::string::npos; },
                                   std::chrono::seconds(60)),
                        nb->err());
  const auto held = records("b");
  BOOST_TEST(held >= kSeeded);
  BOOST_TEST(held < kSeeded + kRecords);
  auto status = index_of();
  BOOST_TEST(status["index"]["limit"] == 1048576u);
  BOOST_TEST(status["index"]["used"].get<std::uint64_t>() <= 1048576u);
  bool listed = false;
  for (const auto& k : status["index"]["byKind"])
    if (k["kind"] == "release") {
      listed = true;
      BOOST_TEST(k["records"] == status["records"]);  // one reply: a small batch may still fit meanwhile
      BOOST_TEST(k["bytes"].get<std::uint64_t>() > k["recordBytes"].get<std::uint64_t>());
    }
  BOOST_TEST(listed, status.dump());
  BOOST_TEST(sb("b", {"status"}).out.find("index ") != std::string::npos);
  // Reads go on.
  auto models = seedbank::testing::http_get(http["b"], "/api/v1/models?limit=5");
  BOOST_REQUIRE_EQUAL(models.status, 200);
  BOOST_TEST(nlohmann::json::parse(models.body)["items"].size() == 5u);
  auto release = nlohmann::json::parse(models.body)["items"][0]["modelVersions"][0];
  const std::string version_id = std::to_string(release["id"].get<std::uint64_t>());
  auto react = [&] {
    nlohmann::json body{{"modelVersionId", release["id"]}, {"reaction", "heart"}};
    return seedbank::testing::http_request(http["b"], "POST", "/api/seedbank/reactions", body.dump(),
                                           {{"Content-Type", "application/json"}, {"Origin", "http://" + http["b"]}});
  };

  // A command with a larger size writes past b's map (records of 8 KB
  // each, 2 MiB of them): b adopts what it wrote.
  constexpr std::size_t kImported = 250;
  const auto big = protocol::SecretKey::generate();
  std::vector<std::string> import_args{"--index-size", "8MiB", "record", "import"};
  for (std::size_t i = 0; i < kImported; ++i) {
    auto draft = seedbank::testing::sample_release(900000 + i);
    draft.description = std::string(8000, 'x');
    auto bytes = seedbank::testing::sign_release(big, draft, seedbank::testing::now_ms() - i);
    auto f = dir / ("big-" + std::to_string(i) + ".record");
    std::ofstream(f, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    import_args.push_back(f.string());
  }
  auto imported = sb("b", import_args);
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  const std::string sha = protocol::to_hex(seedbank::testing::fake_digest(900000 + kImported - 1, 1));
  BOOST_TEST(eventually(
      [&] { return seedbank::testing::http_get(http["b"], "/api/v1/model-versions/by-hash/" + sha).status == 200; }));
  // It maps what the command wrote, no more: its own limit is still 1 MiB.
  status = index_of();
  BOOST_TEST(status["index"]["limit"].get<std::uint64_t>() > 2u << 20);
  BOOST_TEST(status["index"]["limit"] == status["index"]["used"]);

  // indexSize raised: b grows its index itself, gets the rest from a and
  // takes the reaction.
  {  // written whole, then renamed: the node may read it at any moment
    std::ofstream(dir / "b" / "config.json.tmp") << "{\"indexSize\": 67108864}";
    fs::rename(dir / "b" / "config.json.tmp", dir / "b" / "config.json");
  }
  BOOST_TEST(eventually([&] { return records("b") >= kSeeded + kRecords + kImported; }, std::chrono::seconds(90)),
             "b holds " << records("b") << " of " << kSeeded + kRecords + kImported);
  BOOST_TEST(nb->err().find("size limit raised") != std::string::npos, nb->err());
  BOOST_TEST(index_of()["index"]["limit"] == 64u << 20);
  auto taken = react();
  BOOST_TEST(taken.status == 200, taken.body);
  BOOST_TEST(seedbank::testing::http_get(http["b"], "/api/v1/model-versions/by-hash/" + sha).status == 200);
  BOOST_TEST(records("b") == kSeeded + kRecords + kImported + 1);
  // Neither blamed the other for b's full index.
  BOOST_TEST(na->err().find("banned") == std::string::npos, na->err());
  BOOST_TEST(nb->err().find("banned") == std::string::npos, nb->err());
}

BOOST_AUTO_TEST_SUITE_END()
