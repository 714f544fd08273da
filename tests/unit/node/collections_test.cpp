#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <random>

#include "../node/src/collections.h"
#include "support/require_ok.h"
#include "support/test_records.h"

namespace fs = std::filesystem;
namespace p = seedbank::protocol;
using namespace seedbank;
using seedbank::node::CollectionRequest;

namespace {

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("seedbank-collections-" + std::to_string(std::random_device{}()));
  std::unique_ptr<indexer::Index> index;
  p::SecretKey alice = p::SecretKey::generate(), curator = p::SecretKey::generate();
  node::NodeConfig config;
  p::RecordId one{}, two{};

  Fixture() {
    indexer::IndexOptions options;
    options.dir = dir;
    options.network = "test";
    options.map_size = 1ull << 28;
    auto opened = indexer::Index::open(options);
    SB_REQUIRE_OK(opened);
    index = std::move(opened).value();
    one = add(testing::sign_release(alice, testing::sample_release(1), 1000));
    two = add(testing::sign_release(alice, testing::sample_release(2), 1000));
    config.deny_curators = {curator.public_key()};
  }
  ~Fixture() {
    index.reset();
    fs::remove_all(dir);
  }
  p::RecordId add(const p::Bytes& bytes) {
    auto out = index->ingest(bytes);
    BOOST_REQUIRE_MESSAGE(out.status == indexer::IngestStatus::added, out.error.message);
    return out.id;
  }
  // What the command line and the API sign: the change, at its time.
  p::RecordId change(const CollectionRequest& ask) {
    auto c = node::collection_change(*index, config, alice.public_key(), ask);
    SB_REQUIRE_OK(c);
    return add(testing::sign_social(alice, c->draft, std::max(testing::now_ms(), c->not_before_ms)));
  }
  std::vector<p::RecordId> shown(const p::Record& rec) {
    std::vector<p::RecordId> out;
    node::for_each_shown_item(*index, config, rec, node::kMaxShownItems, [&](const node::ShownItem& s) {
      out.push_back(s.release.id());
      return true;
    });
    return out;
  }
};

indexer::Subject release_item(const p::RecordId& id) { return {id, std::nullopt, std::nullopt}; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(collections_test, Fixture)

BOOST_AUTO_TEST_CASE(changes_keep_what_is_not_asked_and_every_version_replaces_the_last) {
  CollectionRequest ask;
  ask.slug = "picks";
  ask.add = {{release_item(one), "first"}};
  auto nameless = node::collection_change(*index, config, alice.public_key(), ask);
  BOOST_REQUIRE(!nameless);
  BOOST_TEST(nameless.error().message.find("give it a name") != std::string::npos);
  ask.name = "Picks";
  auto v1 = change(ask);
  CollectionRequest more;
  more.slug = "picks";
  more.add = {{release_item(two), ""}};
  auto v2 = change(more);
  auto rec = index->get(v2);
  SB_REQUIRE_OK(rec);
  BOOST_TEST(rec->body().getPayload().getCollection().getName().cStr() == std::string("Picks"));  // kept
  BOOST_TEST((shown(*rec) == std::vector<p::RecordId>{one, two}));
  BOOST_TEST(rec->created_at() > index->get(v1)->created_at());
  BOOST_TEST(node::refuses_collection(*index, config, *index->get(v1)).value() ==
             "its author replaced it with a newer version");
  // Nothing to change, an unknown item, removing what is not there.
  auto same = node::collection_change(*index, config, alice.public_key(), more);
  BOOST_TEST(same.error().message.find("changes nothing") != std::string::npos);
  CollectionRequest unknown;
  unknown.slug = "picks";
  unknown.add = {{release_item(p::RecordId{9}), ""}};
  BOOST_TEST(
      (node::collection_change(*index, config, alice.public_key(), unknown).error().code == p::ErrorCode::not_found));
  CollectionRequest fresh;  // create: never one that exists
  fresh.slug = "picks";
  fresh.name = "Picks again";
  fresh.create = true;
  BOOST_TEST(
      (node::collection_change(*index, config, alice.public_key(), fresh).error().code == p::ErrorCode::conflict));
  CollectionRequest gone;
  gone.slug = "picks";
  gone.remove = {release_item(p::RecordId{9})};
  BOOST_TEST(
      (node::collection_change(*index, config, alice.public_key(), gone).error().code == p::ErrorCode::not_found));
}

BOOST_AUTO_TEST_CASE(a_node_shows_what_it_keeps_and_a_curator_denies_a_collection_across_its_edits) {
  CollectionRequest ask;
  ask.slug = "picks";
  ask.name = "Picks";
  ask.add = {{release_item(one), ""}, {release_item(two), ""}};
  auto id = change(ask);
  // A retraction takes its release out of what is shown; the list stays signed.
  add(testing::sign_social(alice, p::RetractionDraft{two, "broken"}, testing::now_ms()));
  BOOST_TEST((shown(*index->get(id)) == std::vector<p::RecordId>{one}));
  BOOST_TEST(index->get(id)->body().getPayload().getCollection().getItems().size() == 2u);
  // A retracted release cannot be added.
  CollectionRequest again;
  again.slug = "other";
  again.name = "Other";
  again.add = {{release_item(two), ""}};
  BOOST_TEST(
      (node::collection_change(*index, config, alice.public_key(), again).error().code == p::ErrorCode::refused));
  // The curator names the collection by its key: every version is denied.
  BOOST_TEST(!node::refuses_collection(*index, config, *index->get(id)));
  p::DenyListDraft list{"collections", {}};
  p::DenyEntryDraft entry;
  entry.target = p::DenyEntryDraft::Target::content_hash;
  entry.bytes = indexer::collection_key(alice.public_key(), "picks");
  list.entries.push_back(entry);
  add(testing::sign_social(curator, list, testing::now_ms()));
  BOOST_TEST(node::refuses_collection(*index, config, *index->get(id)).value() ==
             "denied by a deny-list this node follows");
  CollectionRequest rename;
  rename.slug = "picks";
  rename.name = "Picks, renamed";
  auto edited = change(rename);
  BOOST_TEST(node::refuses_collection(*index, config, *index->get(edited)).has_value());
  // Another node, following no curator, shows it.
  node::NodeConfig open;
  BOOST_TEST(!node::refuses_collection(*index, open, *index->get(edited)));
}

BOOST_AUTO_TEST_CASE(a_signed_collection_lists_each_item_once_and_a_deletion_holds_nothing) {
  auto twice = p::sign_record(alice, "test", testing::now_ms(), [&](schema::RecordBody::Builder b) {
    auto c = b.initPayload().initCollection();
    c.setSlug("dup");
    c.setName("Dup");
    auto items = c.initItems(2);
    for (unsigned i = 0; i < 2; ++i) items[i].initSubject().setRelease(capnp::Data::Reader(one.data(), 32));
  });
  BOOST_REQUIRE(!twice);
  BOOST_TEST(twice.error().message.find("collection.items: lists an item twice") != std::string::npos);
  auto described = p::sign_record(alice, "test", testing::now_ms(), [&](schema::RecordBody::Builder b) {
    auto c = b.initPayload().initCollection();
    c.setSlug("gone");
    c.setDeleted(true);
    c.setDescription("still here");
  });
  BOOST_REQUIRE(!described);
  BOOST_TEST(described.error().message.find("a deletion holds no name, description or items") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
