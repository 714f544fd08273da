#include <boost/test/unit_test.hpp>

#include "support/require_ok.h"

#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string_view>
#include <thread>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/util.h"
#include "support/future_records.h"
#include "support/test_records.h"

using namespace seedbank;
using namespace seedbank::indexer;
using protocol::SecretKey;
using protocol::to_hex;
namespace fs = std::filesystem;

namespace {

struct IndexFixture {
  fs::path dir = fs::temp_directory_path() / ("seedbank-index-" + std::to_string(std::random_device{}()));
  std::unique_ptr<Index> index;
  SecretKey alice = SecretKey::generate();
  SecretKey bob = SecretKey::generate();

  IndexFixture() { reopen(); }
  ~IndexFixture() {
    index.reset();
    fs::remove_all(dir);
  }
  void reopen() {
    index.reset();
    index = open_at(dir, 1ull << 30);
  }
  static std::unique_ptr<Index> open_at(const fs::path& at, std::uint64_t map_size) {
    IndexOptions options;
    options.dir = at;
    options.network = "test";
    options.map_size = map_size;
    auto opened = Index::open(options);
    SB_REQUIRE_OK(opened);
    return std::move(opened).value();
  }
  protocol::RecordId add(const protocol::Bytes& bytes) {
    auto out = index->ingest(bytes);
    BOOST_REQUIRE_MESSAGE(out.status == IngestStatus::added, out.error.message);
    return out.id;
  }
  // Edits the closed index's LMDB files directly in one write transaction,
  // as an older version or a damaged disk would have left them.
  void edit_raw(const std::function<void(MDB_txn*)>& body) {
    BOOST_REQUIRE(!index);
    MDB_env* env = nullptr;
    BOOST_REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 32);
    BOOST_REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    body(txn);
    BOOST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  // Keys of `table` that start with `prefix`, read from the LMDB files
  // (the index is closed for it and opened again).
  std::size_t raw_count(const char* table, std::string_view prefix) {
    index.reset();
    std::size_t n = 0;
    edit_raw([&](MDB_txn* txn) {
      MDB_dbi dbi;
      BOOST_REQUIRE(mdb_dbi_open(txn, table, 0, &dbi) == 0);
      MDB_cursor* c = nullptr;
      BOOST_REQUIRE(mdb_cursor_open(txn, dbi, &c) == 0);
      MDB_val k{prefix.size(), const_cast<char*>(prefix.data())}, v{};
      for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
           rc == 0 && k.mv_size >= prefix.size() && std::memcmp(k.mv_data, prefix.data(), prefix.size()) == 0;
           rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        ++n;
      mdb_cursor_close(c);
    });
    reopen();
    return n;
  }
  // Turns the closed index back into an older `format`: the tables it did
  // not have are dropped and its version is written.
  void downgrade(std::string_view format, std::initializer_list<const char*> tables) {
    edit_raw([&](MDB_txn* txn) {
      for (const char* name : tables) {
        MDB_dbi dbi;
        BOOST_REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
        BOOST_REQUIRE(mdb_drop(txn, dbi, 1) == 0);
      }
      MDB_dbi meta;
      BOOST_REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
      MDB_val k{7, const_cast<char*>("version")}, v{format.size(), const_cast<char*>(format.data())};
      BOOST_REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
    });
  }
};

std::set<std::string> releases_of(const std::vector<HashMatch>& matches) {
  std::set<std::string> out;
  for (const auto& m : matches) out.insert(to_hex(m.release));
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(index_test, IndexFixture)

BOOST_AUTO_TEST_CASE(ingest_is_idempotent_and_survives_reopen) {
  auto bytes = testing::sign_release(alice, testing::sample_release(1), 1000);
  auto id = add(bytes);
  BOOST_TEST((index->ingest(bytes).status == IngestStatus::duplicate));
  reopen();
  BOOST_TEST(index->contains(id));
  auto rec = index->get(id);
  BOOST_REQUIRE(rec.ok());
  BOOST_TEST((rec->bytes().size() == bytes.size()));
  BOOST_TEST(std::equal(bytes.begin(), bytes.end(), rec->bytes().begin()));
  BOOST_TEST(index->stats().records == 1u);
  BOOST_TEST(index->stats().by_kind[1] == 1u);
}

BOOST_AUTO_TEST_CASE(invalid_records_are_never_stored) {
  auto bytes = testing::sign_release(alice, testing::sample_release(1), 1000);
  bytes[bytes.size() / 2] ^= 0x40;
  auto out = index->ingest(bytes);
  BOOST_TEST((out.status == IngestStatus::rejected));
  BOOST_TEST(!out.error.message.empty());
  BOOST_TEST(index->stats().records == 0u);
  auto other_net = testing::sign_release(alice, testing::sample_release(2), 1000, "main");
  BOOST_TEST((index->ingest(other_net).status == IngestStatus::rejected));
}

BOOST_AUTO_TEST_CASE(every_hash_alias_finds_the_release) {
  auto draft = testing::sample_release(7);
  auto id = add(testing::sign_release(alice, draft, 1000));
  const auto& f = draft.files[0];
  auto find = [&](const std::string& q) {
    auto r = index->find_by_hash(q);
    SB_REQUIRE_OK(r);
    return *r;
  };
  auto only_this = [&](const std::vector<HashMatch>& m, const std::string& as) {
    BOOST_REQUIRE_EQUAL(m.size(), 1u);
    BOOST_TEST(to_hex(m[0].release) == to_hex(id));
    BOOST_TEST(m[0].matched_as == as);
  };
  std::string sha = protocol::to_hex_upper(f.sha256);
  only_this(find(sha), "SHA256");
  only_this(find("sha256:" + protocol::to_hex(f.sha256)), "SHA256");
  only_this(find(sha.substr(0, 10)), "AutoV2");
  only_this(find(protocol::to_hex(f.autov1).substr(0, 8)), "AutoV1");
  only_this(find(protocol::to_hex(*f.autov3).substr(0, 12)), "AutoV3");
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08X", f.crc32);
  only_this(find(crc), "CRC32");
  only_this(find(protocol::to_hex(*f.pieces_root)), "PiecesRoot");
  only_this(find(protocol::to_hex(draft.info_hash_v2)), "BTIHv2");
  only_this(find(protocol::to_hex(*draft.info_hash_v1)), "BTIHv1");
  only_this(find("urn:btih:" + protocol::to_hex(*draft.info_hash_v1)), "BTIHv1");
  only_this(find(to_hex(id)), "ReleaseId");
  // The sample image is found too, flagged as an image.
  auto img = find(protocol::to_hex(draft.images[0].sha256));
  BOOST_REQUIRE_EQUAL(img.size(), 1u);
  BOOST_TEST((img[0].file & kImageFlag) != 0);
  // Odd-length prefixes match on the nibble.
  only_this(find(sha.substr(0, 11)), "SHA256 prefix");
  // Unknown and malformed.
  BOOST_TEST(find("0123456789abcdef0123").empty());
  BOOST_TEST(!index->find_by_hash("xyz").ok());
  BOOST_TEST(!index->find_by_hash("1234567").ok());  // shorter than 8
}

BOOST_AUTO_TEST_CASE(ambiguous_prefix_returns_every_match) {
  auto a = testing::sample_release(1);
  auto b = testing::sample_release(2);
  b.files[0].sha256 = a.files[0].sha256;  // the same file in two releases
  b.files[0].sha256[31] ^= 1;             // ... or nearly: same first 31 bytes
  auto ida = add(testing::sign_release(alice, a, 1000));
  auto idb = add(testing::sign_release(bob, b, 1001));
  auto m = index->find_by_hash(protocol::to_hex(a.files[0].sha256).substr(0, 10));
  BOOST_REQUIRE(m.ok());
  BOOST_TEST((releases_of(*m) == std::set<std::string>{to_hex(ida), to_hex(idb)}));
}

BOOST_AUTO_TEST_CASE(same_file_in_two_releases_maps_to_both) {
  auto a = testing::sample_release(1);
  auto b = testing::sample_release(2);
  b.files[0].sha256 = a.files[0].sha256;
  auto ida = add(testing::sign_release(alice, a, 1000));
  auto idb = add(testing::sign_release(alice, b, 1001));
  auto m = index->find_by_hash(protocol::to_hex(a.files[0].sha256));
  BOOST_REQUIRE(m.ok());
  BOOST_TEST((releases_of(*m) == std::set<std::string>{to_hex(ida), to_hex(idb)}));
}

BOOST_AUTO_TEST_CASE(a_release_remembers_when_this_index_stored_it_not_when_it_claims) {
  auto before = testing::now_ms();
  // Dated long ago by its author: the arrival is still now.
  auto id = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto arrived = index->arrived_ms(id);
  BOOST_REQUIRE(arrived.has_value());
  BOOST_TEST(*arrived >= before);
  BOOST_TEST(*arrived <= testing::now_ms());
  reopen();
  BOOST_TEST((index->arrived_ms(id) == arrived));
  BOOST_TEST(!index->arrived_ms(protocol::RecordId{}).has_value());
}

BOOST_AUTO_TEST_CASE(filters_sort_and_cursor_pagination) {
  using schema::ModelType;
  std::vector<protocol::RecordId> loras;
  for (int i = 0; i < 25; ++i) {
    auto type = i % 2 ? ModelType::CHECKPOINT : ModelType::LORA;
    auto draft = testing::sample_release(static_cast<std::uint64_t>(i), type, i % 3 ? "SDXL 1.0" : "SD 1.5");
    auto id = add(testing::sign_release(i % 5 ? alice : bob, draft, 1000 + static_cast<std::uint64_t>(i)));
    if (type == ModelType::LORA) loras.push_back(id);
  }
  // All LORAs, newest first, in pages of 5.
  ReleaseQuery q;
  q.type = static_cast<std::uint16_t>(ModelType::LORA);
  q.limit = 5;
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    auto r = index->query_releases(q);
    BOOST_REQUIRE(r.ok());
    for (const auto& rec : r->items) seen.push_back(to_hex(rec.id()));
    if (r->next_cursor.empty()) break;
    q.cursor = r->next_cursor;
  }
  std::vector<std::string> expect;
  for (auto it = loras.rbegin(); it != loras.rend(); ++it) expect.push_back(to_hex(*it));
  BOOST_TEST(seen == expect, boost::test_tools::per_element());

  // Combined filters: base model + creator + tag, case-insensitive.
  ReleaseQuery combo;
  combo.base_model = "sd 1.5";
  combo.creator = bob.public_key();
  combo.tag = "DETAIL";
  auto r = index->query_releases(combo);
  BOOST_REQUIRE(r.ok());
  for (const auto& rec : r->items) {
    auto rel = rec.body().getPayload().getRelease();
    BOOST_TEST(std::string(rel.getBaseModel().cStr()) == "SD 1.5");
    BOOST_TEST((rec.author() == bob.public_key()));
  }
  BOOST_TEST(r->items.size() == 2u);  // i = 0 and 15

  // Text: every word must start a word of the name.
  ReleaseQuery text;
  text.text = "detail twea 12";
  auto t = index->query_releases(text);
  BOOST_REQUIRE(t.ok());
  BOOST_REQUIRE_EQUAL(t->items.size(), 1u);
  BOOST_TEST(std::string(t->items[0].body().getPayload().getRelease().getModelName().cStr()) == "Detail Tweaker 12");
  text.text = "nomatch";
  BOOST_TEST(index->query_releases(text)->items.empty());

  ReleaseQuery bad;
  bad.cursor = "not-hex";
  BOOST_TEST(!index->query_releases(bad).ok());
}

BOOST_AUTO_TEST_CASE(ratings_last_writer_wins_and_aggregates_update) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto other = add(testing::sign_release(alice, testing::sample_release(2), 1001));
  add(testing::sign_rating(alice, release, 5, 2000));
  add(testing::sign_rating(bob, release, 3, 2000));
  BOOST_TEST(index->rating(release).count == 2u);
  BOOST_TEST(index->rating(release).sum == 8u);
  // Bob changes his mind: replaces, does not add.
  add(testing::sign_rating(bob, release, 1, 3000));
  BOOST_TEST(index->rating(release).count == 2u);
  BOOST_TEST(index->rating(release).sum == 6u);
  // An older rating arriving late is stored (it replicates) but changes nothing.
  auto late = index->ingest(testing::sign_rating(bob, release, 4, 2500));
  BOOST_TEST((late.status == IngestStatus::superseded));
  BOOST_TEST(index->rating(release).sum == 6u);
  BOOST_TEST(to_hex(*index->current(protocol::RecordKind::rating, bob.public_key(), release)) != to_hex(late.id));
  // Highest rated: `other` has 5 stars from two keys, `release` 3.0 mean.
  add(testing::sign_rating(alice, other, 5, 2000));
  add(testing::sign_rating(bob, other, 5, 2000));
  ReleaseQuery q;
  q.sort = SortOrder::highest_rated;
  auto r = index->query_releases(q);
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE_EQUAL(r->items.size(), 2u);
  BOOST_TEST(to_hex(r->items[0].id()) == to_hex(other));
  reopen();
  BOOST_TEST(index->rating(release).sum == 6u);
}

BOOST_AUTO_TEST_CASE(contradicting_records_with_one_timestamp_resolve_the_same_in_any_order) {
  // Two ratings by one key of one release, stamped the same millisecond:
  // every node must keep the same one, whichever arrives first.
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto r1 = testing::sign_rating(bob, release, 1, 5000);
  auto r5 = testing::sign_rating(bob, release, 5, 5000);
  auto winner = std::max(protocol::record_id_of(r1), protocol::record_id_of(r5));
  index->ingest(r5);
  index->ingest(r1);
  auto first = index->current(protocol::RecordKind::rating, bob.public_key(), release);
  auto sum_first = index->rating(release).sum;
  // A second node: a fresh index, the other order.
  index.reset();
  fs::remove_all(dir);
  reopen();
  add(testing::sign_release(alice, testing::sample_release(1), 1000));  // the same bytes: signing is deterministic
  index->ingest(r1);
  index->ingest(r5);
  BOOST_REQUIRE(first);
  BOOST_TEST(to_hex(*first) == to_hex(winner));
  BOOST_TEST(to_hex(*index->current(protocol::RecordKind::rating, bob.public_key(), release)) == to_hex(winner));
  BOOST_TEST(index->rating(release).count == 1u);
  BOOST_TEST(index->rating(release).sum == sum_first);
}

BOOST_AUTO_TEST_CASE(rating_before_its_release_still_counts) {
  auto draft = testing::sample_release(4);
  auto release_bytes = testing::sign_release(alice, draft, 1000);
  auto release_id = protocol::record_id_of(release_bytes);
  add(testing::sign_rating(bob, release_id, 4, 2000));
  add(release_bytes);
  BOOST_TEST(index->rating(release_id).count == 1u);
  ReleaseQuery q;
  q.sort = SortOrder::highest_rated;
  BOOST_TEST(index->query_releases(q)->items.size() == 1u);
}

BOOST_AUTO_TEST_CASE(retraction_by_the_author_hides_the_release) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto retract = [&](const SecretKey& key) {
    return protocol::sign_record(key, "test", 2000, [&](schema::RecordBody::Builder b) {
      auto r = b.initPayload().initRetraction();
      r.setRelease(capnp::Data::Reader(release.data(), 32));
      r.setReason("broken weights");
    });
  };
  add(*retract(bob));  // someone else cannot retract it
  BOOST_TEST(!index->is_retracted(release));
  BOOST_TEST(index->query_releases({})->items.size() == 1u);
  add(*retract(alice));
  BOOST_TEST(index->is_retracted(release));
  BOOST_TEST(index->query_releases({})->items.empty());
  ReleaseQuery all;
  all.include_retracted = true;
  BOOST_TEST(index->query_releases(all)->items.size() == 1u);
}

namespace {

protocol::Bytes sign_profile(const SecretKey& key, const std::string& name, std::uint64_t t) {
  return *protocol::sign_record(
      key, "test", t, [&](schema::RecordBody::Builder b) { b.initPayload().initProfile().setDisplayName(name); });
}

protocol::Bytes sign_retraction(const SecretKey& key, const protocol::RecordId& release, std::uint64_t t) {
  return *protocol::sign_record(key, "test", t, [&](schema::RecordBody::Builder b) {
    b.initPayload().initRetraction().setRelease(capnp::Data::Reader(release.data(), 32));
  });
}

}  // namespace

std::map<std::string, std::uint64_t> tag_counts(IndexFixture& f) {
  std::map<std::string, std::uint64_t> tags;
  for (auto& t : f.index->tags("", "", 100)) tags[t.name] = t.models;
  return tags;
}

// What the HTTP API lists: models (versions grouped by author and slug),
// their numeric ids, tags, creators and profile names.
struct ModelViews {
  protocol::RecordId v1, v2, other;
  ModelKey alice_model{};

  void build(IndexFixture& f) {
    auto first = testing::sample_release(1);
    auto second = testing::sample_release(2);
    second.model_name = first.model_name;  // the same model, a newer version
    second.version_name = "v2.0";
    second.tags = {"detail", "portrait"};
    v1 = f.add(testing::sign_release(f.alice, first, 1000));
    v2 = f.add(testing::sign_release(f.alice, second, 2000));
    other = f.add(testing::sign_release(f.bob, testing::sample_release(3), 1500));
    alice_model = model_key(f.alice.public_key(), "detail-tweaker-1");
    f.add(testing::sign_rating(f.bob, v1, 5, 3000));
    f.add(testing::sign_rating(f.alice, v2, 4, 3000));
    f.add(testing::sign_rating(f.alice, other, 3, 3000));
    f.add(sign_profile(f.alice, "Alice A", 3000));
  }

  void check(IndexFixture& f) {
    ReleaseQuery q;
    q.models_only = true;
    auto page = f.index->query_releases(q);
    BOOST_REQUIRE(page.ok());
    BOOST_REQUIRE_EQUAL(page->items.size(), 2u);  // one per model, newest version
    BOOST_TEST(to_hex(page->items[0].id()) == to_hex(v2));
    BOOST_TEST(to_hex(page->items[1].id()) == to_hex(other));

    auto m = f.index->model(alice_model);
    BOOST_REQUIRE(m);
    BOOST_REQUIRE_EQUAL(m->versions.size(), 2u);
    BOOST_TEST(to_hex(m->versions[0]) == to_hex(v2));
    BOOST_TEST(to_hex(*m->head) == to_hex(v2));
    BOOST_TEST(m->rating.count == 2u);  // both versions' ratings
    BOOST_TEST(m->rating.sum == 9u);
    BOOST_TEST(m->rating.thumbs_up == 2u);
    BOOST_TEST(f.index->rating(other).thumbs_down == 0u);
    BOOST_TEST(f.index->rating(v1).reviews == 1u);
    BOOST_TEST(to_hex(*f.index->model_by_number(numeric_id(alice_model))) == to_hex(alice_model));
    BOOST_TEST(to_hex(*f.index->release_by_number(numeric_id(v1))) == to_hex(v1));
    BOOST_TEST(!f.index->release_by_number(12345));
    BOOST_TEST(numeric_id(v1) < (1ull << 53));

    // Highest rated models: alice's 4.5 over bob's 3.0, each listed once.
    q.sort = SortOrder::highest_rated;
    page = f.index->query_releases(q);
    BOOST_REQUIRE_EQUAL(page->items.size(), 2u);
    BOOST_TEST(to_hex(page->items[0].id()) == to_hex(v2));

    // Tags count listed models, under each model's newest version's tags.
    auto tags = tag_counts(f);
    BOOST_TEST(tags["detail"] == 2u);
    BOOST_TEST(tags["portrait"] == 1u);
    BOOST_TEST(tags.count("tag1") == 0u);                   // only v1.0 had it
    BOOST_TEST(f.index->tags("ta", "", 100).size() == 1u);  // tag3, bob's

    BOOST_TEST(f.index->creators(std::nullopt, 10).size() == 2u);
    BOOST_TEST(f.index->model_count(f.alice.public_key()) == 1u);
    auto named = f.index->keys_named("alice a");
    BOOST_REQUIRE_EQUAL(named.size(), 1u);
    BOOST_TEST((named[0] == f.alice.public_key()));
    BOOST_TEST(f.index->ratings_of(v1, 10).size() == 1u);
  }
};

BOOST_AUTO_TEST_CASE(models_group_versions_with_ids_tags_creators_and_names) {
  ModelViews views;
  views.build(*this);
  views.check(*this);
  reopen();
  views.check(*this);

  // A new profile name replaces the old one.
  add(sign_profile(alice, "Alicia", 4000));
  BOOST_TEST(index->keys_named("alice a").empty());
  BOOST_TEST(index->keys_named("ALI", true).size() == 1u);

  // Retracting the newest version lists the one before it.
  add(sign_retraction(alice, views.v2, 5000));
  ReleaseQuery q;
  q.models_only = true;
  auto page = index->query_releases(q);
  BOOST_REQUIRE_EQUAL(page->items.size(), 2u);
  BOOST_TEST(to_hex(page->items[1].id()) == to_hex(views.v1));
  BOOST_TEST(to_hex(*index->model(views.alice_model)->head) == to_hex(views.v1));
  // The model's figures and tags are now v1.0's alone.
  BOOST_TEST(index->model(views.alice_model)->rating.count == 1u);
  BOOST_TEST(index->model(views.alice_model)->rating.sum == 5u);
  BOOST_TEST(tag_counts(*this)["tag1"] == 1u);
  BOOST_TEST(tag_counts(*this).count("portrait") == 0u);
  // A rating of the retracted version does not count for the model.
  add(testing::sign_rating(bob, views.v2, 1, 6000));
  BOOST_TEST(index->model(views.alice_model)->rating.count == 1u);
  // Retracting every version takes the model off the list.
  add(sign_retraction(alice, views.v1, 5001));
  BOOST_TEST(!index->model(views.alice_model)->head);
  BOOST_TEST(index->creators(std::nullopt, 10).size() == 1u);  // bob's model only
  BOOST_TEST(tag_counts(*this).count("tag1") == 0u);
  BOOST_TEST(index->query_releases(q)->items.size() == 1u);
  q.sort = SortOrder::highest_rated;
  BOOST_TEST(index->query_releases(q)->items.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_model_whose_newest_version_is_denied_falls_back_to_the_one_before) {
  ModelViews views;
  views.build(*this);
  auto curator = SecretKey::generate();
  add(*protocol::sign_record(curator, "test", 4000, [&](schema::RecordBody::Builder b) {
    auto list = b.initPayload().initDenyList();
    list.setName("takedowns");
    list.initEntries(1)[0].initTarget().setRelease(capnp::Data::Reader(views.v2.data(), 32));
  }));
  for (auto sort : {SortOrder::newest, SortOrder::highest_rated}) {
    ReleaseQuery q;
    q.models_only = true;
    q.sort = sort;
    q.deny_curators = {curator.public_key()};
    auto page = index->query_releases(q);
    BOOST_REQUIRE(page.ok());
    std::set<std::string> ids;
    for (const auto& r : page->items) ids.insert(to_hex(r.id()));
    BOOST_TEST(ids == (std::set<std::string>{to_hex(views.v1), to_hex(views.other)}));
    // A node that does not follow the curator still shows the newest.
    q.deny_curators.clear();
    ids.clear();
    page = index->query_releases(q);
    for (const auto& r : page->items) ids.insert(to_hex(r.id()));
    BOOST_TEST(ids == (std::set<std::string>{to_hex(views.v2), to_hex(views.other)}));
  }
}

BOOST_AUTO_TEST_CASE(an_index_of_format_1_is_upgraded_when_opened) {
  ModelViews views;
  views.build(*this);
  index.reset();
  // Turn the folder back into format 1: the views format 2 added are gone.
  downgrade("1", {"models", "rel_model", "model_rating", "ids", "tags", "creators", "names", "rel_ratings"});

  reopen();
  views.check(*this);
}

namespace {

protocol::Bytes sign_avatar(const SecretKey& key, const protocol::Sha256Digest& avatar, std::uint64_t t) {
  return *protocol::sign_record(key, "test", t, [&](schema::RecordBody::Builder b) {
    auto profile = b.initPayload().initProfile();
    profile.setDisplayName("with an avatar");
    profile.setAvatar(capnp::Data::Reader(avatar.data(), 32));
  });
}

protocol::Bytes sign_post(const SecretKey& key, const protocol::RecordId& release, const protocol::Sha256Digest& image,
                          std::uint64_t t) {
  return testing::sign_post(key, release, image, t, "test", 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(records_naming_an_image_are_its_posts_and_current_avatars_also_after_an_upgrade) {
  // What lets /api/images/<sha256> serve images only: which records name
  // an image, besides release sample images (find_by_hash).
  auto t = testing::now_ms() - 100000;
  auto release = add(testing::sign_release(alice, testing::sample_release(1), t));
  auto shown = testing::fake_digest(1, 7), old_avatar = testing::fake_digest(2, 7), avatar = testing::fake_digest(3, 7);
  auto post = add(sign_post(bob, release, shown, t + 1));
  add(sign_avatar(bob, old_avatar, t + 2));
  auto profile = add(sign_avatar(bob, avatar, t + 3));  // replaces the first
  auto check = [&] {
    BOOST_TEST(index->records_naming_image(shown, 10) == std::vector<protocol::RecordId>{post});
    BOOST_TEST(index->records_naming_image(avatar, 10) == std::vector<protocol::RecordId>{profile});
    BOOST_TEST(index->records_naming_image(old_avatar, 10).empty());  // no longer anyone's avatar
    BOOST_TEST(index->records_naming_image(testing::fake_digest(4, 7), 10).empty());
  };
  check();
  // A format 3 index (no image_refs) gets them built when opened.
  index.reset();
  downgrade("3", {"image_refs"});
  reopen();
  check();
}

BOOST_AUTO_TEST_CASE(the_image_feed_lists_releases_with_images_and_posts_newest_first_also_after_an_upgrade) {
  auto t = testing::now_ms() - 1000000;
  auto r1 = add(testing::sign_release(alice, testing::sample_release(1), t));
  auto bare = testing::sample_release(2);
  bare.images.clear();  // no sample images: not in the feed
  add(testing::sign_release(alice, bare, t + 1));
  auto p1 = add(sign_post(bob, r1, testing::fake_digest(9, 7), t + 2));
  add(testing::sign_rating(bob, r1, 4, t + 3));  // not an image
  auto r3 = add(testing::sign_release(bob, testing::sample_release(3), t + 4));
  auto p2 = add(sign_post(alice, r3, testing::fake_digest(8, 7), t + 5));
  using Ids = std::vector<protocol::RecordId>;
  auto ids = [](const std::vector<FeedEntry>& feed) {
    Ids out;
    for (const auto& e : feed) out.push_back(e.id);
    return out;
  };
  auto check = [&] {
    auto all = index->image_feed(std::nullopt, 0, {}, 10);
    BOOST_TEST(ids(all) == (Ids{p2, r3, p1, r1}));
    BOOST_TEST(all[0].created_at == t + 5);
    // Pages: from an entry, inclusive.
    BOOST_TEST(ids(index->image_feed(all[1], 0, {}, 2)) == (Ids{r3, p1}));
    BOOST_TEST(ids(index->image_feed(all[3], 0, {}, 2)) == (Ids{r1}));
    // Since a time, and by author (several keys merge, newest first).
    BOOST_TEST(ids(index->image_feed(std::nullopt, t + 2, {}, 10)) == (Ids{p2, r3, p1}));
    std::vector<PublicKey> by_alice{alice.public_key()}, both{bob.public_key(), alice.public_key()};
    BOOST_TEST(ids(index->image_feed(std::nullopt, 0, by_alice, 10)) == (Ids{p2, r1}));
    BOOST_TEST(ids(index->image_feed(std::nullopt, 0, both, 3)) == (Ids{p2, r3, p1}));
    BOOST_TEST(ids(index->image_feed(all[2], 0, both, 10)) == (Ids{p1, r1}));
  };
  check();
  // A format 4 index (no image_feed) gets it built when opened.
  index.reset();
  downgrade("4", {"image_feed", "author_feed"});
  reopen();
  check();
}

BOOST_AUTO_TEST_CASE(admission_asks_work_of_new_keys_and_caps_recent_records_per_author) {
  Admission admission;
  admission.new_key_work_bits = 10;
  admission.per_author_per_hour = 5;
  auto now = testing::now_ms();
  // A new key without work is refused; with it, accepted.
  auto lazy =
      testing::sign_release(alice, testing::sample_release(1), testing::unstamped_time(alice, now, 10), "test", 0);
  auto refused = index->ingest_batch(std::vector<protocol::Bytes>{lazy}, Durability::replicated, admission);
  BOOST_TEST((refused[0].status == IngestStatus::rejected));
  BOOST_TEST((refused[0].error.code == protocol::ErrorCode::refused));
  std::vector<protocol::Bytes> recent, old;
  for (int i = 0; i < 8; ++i)
    recent.push_back(testing::sign_release(alice, testing::sample_release(10 + i), now - i * 1000));
  // (the first is stamped: test records carry kTestWorkBits)
  for (int i = 0; i < 8; ++i)
    old.push_back(testing::sign_release(alice, testing::sample_release(20 + i), now - 3 * 3600 * 1000 - i, "test", 0));
  int added = 0;
  for (auto& o : index->ingest_batch(recent, Durability::replicated, admission))
    added += o.status == IngestStatus::added;
  BOOST_TEST(added == 5);  // the cap
  // Records older than an hour (a history being synced) need no work once
  // the key is known, and have ten times the room, counted by arrival: so
  // back-dating does not escape the cap.
  added = 0;
  for (auto& o : index->ingest_batch(old, Durability::replicated, admission)) added += o.status == IngestStatus::added;
  BOOST_TEST(added == 8);
  std::vector<protocol::Bytes> backdated;
  for (int i = 0; i < 60; ++i)
    backdated.push_back(
        testing::sign_release(alice, testing::sample_release(100 + i), now - 5 * 3600 * 1000 - i, "test", 0));
  added = 0;
  for (auto& o : index->ingest_batch(backdated, Durability::replicated, admission))
    added += o.status == IngestStatus::added;
  BOOST_TEST(added == 50 - 8);
  // Another author is not affected.
  auto other = testing::sign_release(bob, testing::sample_release(30), now);
  BOOST_TEST((index->ingest_batch(std::vector<protocol::Bytes>{other}, Durability::replicated, admission)[0].status ==
              IngestStatus::added));
}

BOOST_AUTO_TEST_CASE(a_revocation_cannot_be_undone_by_the_revoked_key) {
  auto owner_new = SecretKey::generate(), thief = SecretKey::generate();
  auto rotate = [&](const SecretKey& to, bool revoke, std::uint64_t t) {
    auto consent = to.sign(protocol::rotation_message(alice.public_key(), to.public_key(), t));
    return *protocol::sign_record(alice, "test", t, [&](schema::RecordBody::Builder b) {
      auto r = b.initPayload().initKeyRotation();
      r.setNewKey(capnp::Data::Reader(to.public_key().bytes.data(), 32));
      r.setNewKeySignature(capnp::Data::Reader(consent.data(), 64));
      r.setRevokeOld(revoke);
    });
  };
  auto release = add(testing::sign_release(bob, testing::sample_release(1), 1000));
  add(rotate(owner_new, true, 2000));
  // The thief, holding the old key, rotates it again later, and rates.
  auto undo = index->ingest(rotate(thief, false, 3000));
  BOOST_TEST((undo.status == IngestStatus::superseded));
  auto rot = index->rotation(alice.public_key());
  BOOST_REQUIRE(rot);
  BOOST_TEST((rot->new_key == owner_new.public_key()));
  BOOST_TEST(rot->revoked);
  BOOST_TEST((index->ingest(testing::sign_rating(alice, release, 1, 4000)).status == IngestStatus::superseded));
  BOOST_TEST(index->rating(release).count == 0u);
}

BOOST_AUTO_TEST_CASE(a_revocation_with_a_keep_list_voids_records_back_dated_before_it) {
  auto owner_new = SecretKey::generate();
  auto rotate = [&](std::uint64_t t, std::vector<protocol::RecordId> keep, bool keep_listed = true) {
    auto consent = owner_new.sign(protocol::rotation_message(alice.public_key(), owner_new.public_key(), t));
    return protocol::sign_record(alice, "test", t, [&](schema::RecordBody::Builder b) {
      auto r = b.initPayload().initKeyRotation();
      r.setNewKey(capnp::Data::Reader(owner_new.public_key().bytes.data(), 32));
      r.setNewKeySignature(capnp::Data::Reader(consent.data(), 64));
      r.setRevokeOld(true);
      r.setKeepListed(keep_listed);
      auto list = r.initKeep(static_cast<unsigned>(keep.size()));
      for (unsigned i = 0; i < keep.size(); ++i) list.set(i, capnp::Data::Reader(keep[i].data(), 32));
    });
  };
  auto listed = [&] {
    ReleaseQuery q;
    q.creator = alice.public_key();
    std::set<std::string> names;
    auto page = index->query_releases(q);
    for (const auto& r : page->items) names.insert(r.body().getPayload().getRelease().getModelName().cStr());
    return names;
  };
  auto mine = testing::sign_release(alice, testing::sample_release(1), 1000);
  auto stolen_early = testing::sign_release(alice, testing::sample_release(2), 1500);  // arrives before the revocation
  BOOST_TEST((index->ingest(mine).status == IngestStatus::added));
  BOOST_TEST((index->ingest(stolen_early).status == IngestStatus::added));
  BOOST_TEST(listed().size() == 2u);
  // Out of order, the keep list is malformed.
  std::vector<protocol::RecordId> two = {protocol::record_id_of(mine), protocol::record_id_of(stolen_early)};
  std::sort(two.begin(), two.end(), std::greater<>());
  auto unordered = rotate(2000, two);
  BOOST_REQUIRE(!unordered.ok());
  BOOST_TEST(unordered.error().message.find("ascending order") != std::string::npos, unordered.error().message);
  // The owner revokes, vouching only for what they signed.
  BOOST_TEST((index->ingest(*rotate(2000, {protocol::record_id_of(mine)})).status == IngestStatus::added));
  // A thief back-dates a release to before the revocation: kept, never listed.
  auto stolen_late = testing::sign_release(alice, testing::sample_release(3), 1900);
  BOOST_TEST((index->ingest(stolen_late).status == IngestStatus::added));
  auto record = [&](const protocol::Bytes& b) { return std::move(index->get(protocol::record_id_of(b))).value(); };
  BOOST_TEST(!index->voided(record(mine)));
  BOOST_TEST(index->voided(record(stolen_early)));
  BOOST_TEST(index->voided(record(stolen_late)));
  auto names = listed();
  BOOST_TEST(names.size() == 1u);
  BOOST_TEST(names.count(testing::sample_release(1).model_name) == 1u);
  // Its back-dated rating counts for nothing either.
  BOOST_TEST((index->ingest(testing::sign_rating(alice, protocol::record_id_of(mine), 1, 1950)).status ==
              IngestStatus::superseded));
}

BOOST_AUTO_TEST_CASE(batch_ingest_reports_each_record) {
  std::vector<protocol::Bytes> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(testing::sign_release(alice, testing::sample_release(static_cast<std::uint64_t>(i)), 1000 + i));
  batch[10][40] ^= 1;         // tampered
  batch.push_back(batch[5]);  // duplicate within the batch
  auto out = index->ingest_batch(batch);
  BOOST_REQUIRE_EQUAL(out.size(), batch.size());
  BOOST_TEST((out[10].status == IngestStatus::rejected));
  BOOST_TEST((out[100].status == IngestStatus::duplicate));
  BOOST_TEST(index->stats().records == 99u);
  std::uint64_t n = 0, last = 0;
  bool ordered = true;
  index->for_each_by_time(0, [&](std::uint64_t t, const protocol::RecordId&) {
    ordered = ordered && t >= last;
    last = t;
    ++n;
    return true;
  });
  BOOST_TEST(n == 99u);
  BOOST_TEST(ordered);
}

BOOST_AUTO_TEST_CASE(an_index_belongs_to_one_network) {
  index.reset();
  IndexOptions options;
  options.dir = dir;
  options.network = "main";
  auto other = Index::open(options);
  BOOST_REQUIRE(!other.ok());
  BOOST_TEST(other.error().message.find("belongs to network 'test'") != std::string::npos);
  reopen();
}

// ---- forward compatibility: records of kinds this version does not know ----

BOOST_AUTO_TEST_CASE(a_record_of_an_unknown_kind_is_kept_for_reconciliation_but_never_indexed) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto bytes = testing::sign_mirror(bob, release, 2000);
  auto out = index->ingest(bytes);
  BOOST_REQUIRE_MESSAGE(out.status == IngestStatus::added, out.error.message);
  auto id = out.id;
  BOOST_TEST((index->ingest(bytes).status == IngestStatus::duplicate));

  auto check = [&] {
    BOOST_TEST(index->contains(id));
    auto rec = index->get(id);
    SB_REQUIRE_OK(rec);
    BOOST_TEST((rec->kind() == protocol::RecordKind::unknown));
    BOOST_TEST(rec->payload_tag() == testing::kMirrorTag);
    BOOST_TEST(std::equal(bytes.begin(), bytes.end(), rec->bytes().begin(), rec->bytes().end()));
    // In the reconciliation order, so peers converge on it.
    std::vector<std::pair<std::uint64_t, std::string>> order;
    index->for_each_by_time(0, [&](std::uint64_t t, const protocol::RecordId& r) {
      order.emplace_back(t, to_hex(r));
      return true;
    });
    BOOST_TEST(
        (order == std::vector<std::pair<std::uint64_t, std::string>>{{1000, to_hex(release)}, {2000, to_hex(id)}}));
    // In no view: not listed, not found by hash, not anyone's current record.
    auto page = index->query_releases(ReleaseQuery{});
    SB_REQUIRE_OK(page);
    BOOST_REQUIRE_EQUAL(page->items.size(), 1u);
    BOOST_TEST(to_hex(page->items[0].id()) == to_hex(release));
    auto found = index->find_by_hash(to_hex(id));
    SB_REQUIRE_OK(found);
    BOOST_TEST(found->empty());
    for (auto kind : {protocol::RecordKind::profile, protocol::RecordKind::key_rotation})
      BOOST_TEST(!index->current(kind, bob.public_key()).has_value());
    BOOST_TEST(index->ratings_of(release, 10).empty());
    BOOST_TEST(index->posts_of(release, 10).empty());
    BOOST_TEST(index->rating(release).count == 0u);
    // Counted: as its author's record, and apart from the known kinds.
    auto by_bob = index->records_by(bob.public_key(), ~std::uint64_t{0});
    BOOST_REQUIRE_EQUAL(by_bob.size(), 1u);
    BOOST_TEST(to_hex(by_bob[0]) == to_hex(id));
    auto stats = index->stats();
    BOOST_TEST(stats.records == 2u);
    BOOST_TEST(stats.by_kind[0] == 1u);
    BOOST_TEST(stats.by_kind[1] == 1u);
  };
  check();
  reopen();
  check();
}

BOOST_AUTO_TEST_CASE(admission_counts_records_of_unknown_kinds_per_author) {
  Admission admission;
  admission.new_key_work_bits = 10;
  admission.per_author_per_hour = 3;
  auto now = testing::now_ms();
  protocol::RecordId release{};
  // A new key's first record needs its work stamp, whatever its kind.
  auto lazy = testing::sign_mirror(bob, release, testing::unstamped_time(bob, now, 10), "test", 0);
  auto refused = index->ingest_batch(std::vector<protocol::Bytes>{lazy}, Durability::replicated, admission);
  BOOST_TEST((refused[0].error.code == protocol::ErrorCode::refused));
  std::vector<protocol::Bytes> mirrors;
  for (int i = 0; i < 5; ++i) mirrors.push_back(testing::sign_mirror(bob, release, now - i * 1000));
  int added = 0, capped = 0;
  for (auto& o : index->ingest_batch(mirrors, Durability::replicated, admission)) {
    added += o.status == IngestStatus::added;
    capped += o.status == IngestStatus::rejected && o.error.code == protocol::ErrorCode::refused;
  }
  BOOST_TEST(added == 3);
  BOOST_TEST(capped == 2);
  // They count against the author's known kinds too.
  auto more =
      index->ingest_batch(std::vector<protocol::Bytes>{testing::sign_release(bob, testing::sample_release(2), now)},
                          Durability::replicated, admission);
  BOOST_TEST((more[0].error.code == protocol::ErrorCode::refused));
}

BOOST_AUTO_TEST_CASE(records_kept_opaque_are_indexed_when_a_seedbank_that_knows_their_kind_opens_the_index) {
  // What an older seedbank leaves when a release reaches it before it knows
  // the release kind: the record, its time and author keys, an `opaque`
  // entry (payload tag 0), and the count of unknown records.
  auto draft = testing::sample_release(3);
  auto bytes = testing::sign_release(alice, draft, 5000);
  auto id = protocol::record_id_of(bytes);
  // And a release the older seedbank could not check: it has no files.
  auto broken = testing::sign_future_record(alice, "test", 6000, [](future::RecordBody::Builder body) {
    body.getPayload().initRelease().setModelName("No Files");
  });
  auto broken_id = protocol::record_id_of(broken);
  BOOST_TEST(!protocol::verify_record(broken, "test").ok());
  index.reset();
  auto be64 = [](protocol::Bytes& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  auto put = [](MDB_txn* txn, const char* db, const protocol::Bytes& key, const protocol::Bytes& value) {
    MDB_dbi dbi;
    BOOST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
    MDB_val k{key.size(), const_cast<std::uint8_t*>(key.data())};
    MDB_val v{value.size(), const_cast<std::uint8_t*>(value.data())};
    BOOST_REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  };
  edit_raw([&](MDB_txn* txn) {
    auto store_opaque = [&](const protocol::Bytes& record, const protocol::RecordId& rid, std::uint64_t t) {
      protocol::Bytes id_key(rid.begin(), rid.end()), time_key;
      protocol::Bytes author_key(alice.public_key().bytes.begin(), alice.public_key().bytes.end());
      be64(time_key, t);
      time_key.insert(time_key.end(), rid.begin(), rid.end());
      author_key.insert(author_key.end(), time_key.begin(), time_key.end());
      put(txn, "records", id_key, record);
      put(txn, "by_time", time_key, {});
      put(txn, "author_time", author_key, {});
      put(txn, "opaque", id_key, {0, 0});
    };
    store_opaque(bytes, id, 5000);
    store_opaque(broken, broken_id, 6000);
    protocol::Bytes two;
    be64(two, 2);
    std::string count = "count/unknown";
    put(txn, "meta", protocol::Bytes(count.begin(), count.end()), two);
  });

  reopen();
  auto found = index->find_by_hash(to_hex(draft.files[0].sha256));
  SB_REQUIRE_OK(found);
  BOOST_TEST(releases_of(*found) == (std::set<std::string>{to_hex(id)}));
  auto page = index->query_releases(ReleaseQuery{});
  SB_REQUIRE_OK(page);
  BOOST_REQUIRE_EQUAL(page->items.size(), 1u);
  BOOST_TEST(to_hex(page->items[0].id()) == to_hex(id));
  BOOST_TEST(index->stats().by_kind[0] == 0u);
  BOOST_TEST(index->stats().by_kind[1] == 1u);
  // The one that fails its kind's checks stays stored (it replicates), in no view.
  BOOST_TEST(index->contains(broken_id));
  index.reset();
  edit_raw([&](MDB_txn* txn) {
    MDB_dbi dbi;
    BOOST_REQUIRE(mdb_dbi_open(txn, "opaque", 0, &dbi) == 0);
    MDB_stat st;
    BOOST_REQUIRE(mdb_stat(txn, dbi, &st) == 0);
    BOOST_TEST(st.ms_entries == 0u);  // indexed once, not at every open
  });
  reopen();
  BOOST_TEST(index->query_releases(ReleaseQuery{})->items.size() == 1u);
}

BOOST_AUTO_TEST_CASE(reactions_are_one_per_key_and_subject_replaceable_and_counted) {
  using protocol::ReactionKind;
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  Subject whole{release, std::nullopt, std::nullopt};
  Subject image{release, protocol::Sha256Digest{7}, std::nullopt};
  add(testing::sign_reaction(alice, whole, ReactionKind::like, 2000));
  add(testing::sign_reaction(bob, whole, ReactionKind::heart, 2000));
  add(testing::sign_reaction(bob, image, ReactionKind::cry, 2000));
  BOOST_TEST(index->social(whole).like == 1u);
  BOOST_TEST(index->social(whole).heart == 1u);
  BOOST_TEST(index->social(whole).cry == 0u);  // bob's cry is about the image
  BOOST_TEST(index->social(image).cry == 1u);
  // A newer reaction replaces the key's older one; none withdraws it.
  add(testing::sign_reaction(alice, whole, ReactionKind::heart, 3000));
  BOOST_TEST(index->social(whole).like == 0u);
  BOOST_TEST(index->social(whole).heart == 2u);
  add(testing::sign_reaction(bob, whole, ReactionKind::none, 3000));
  BOOST_TEST(index->social(whole).heart == 1u);
  BOOST_TEST(index->social(whole).reactions() == 1u);
  // An older one arriving late is kept (it replicates) and counts for nothing.
  auto late = index->ingest(testing::sign_reaction(bob, whole, ReactionKind::laugh, 2500));
  BOOST_TEST((late.status == IngestStatus::superseded));
  BOOST_TEST(index->social(whole).laugh == 0u);
  reopen();
  BOOST_TEST(index->social(whole).heart == 1u);
  BOOST_TEST(index->social(image).cry == 1u);
  BOOST_TEST(index->stats().by_kind[static_cast<int>(protocol::RecordKind::reaction)] == 6u);
}

BOOST_AUTO_TEST_CASE(comments_list_newest_first_with_replies_and_edits_replace_them) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  Subject whole{release, std::nullopt, std::nullopt};
  auto comment = [&](const SecretKey& key, std::uint64_t t, std::string text,
                     std::optional<protocol::RecordId> parent = std::nullopt,
                     std::optional<protocol::RecordId> edits = std::nullopt, bool deleted = false) {
    return testing::sign_social(key, protocol::CommentDraft{whole, parent, std::move(text), edits, deleted}, t);
  };
  auto c1 = add(comment(alice, 2000, "first"));
  auto c2 = add(comment(bob, 3000, "second"));
  auto r1 = add(comment(bob, 4000, "a reply", c1));
  auto listed = index->comments_of(whole, std::nullopt, 10);
  BOOST_REQUIRE(listed.size() == 2u);  // replies are listed under their comment
  BOOST_TEST(to_hex(listed[0].id) == to_hex(c2));
  BOOST_TEST(to_hex(listed[1].id) == to_hex(c1));
  auto page2 = index->comments_of(whole, listed[0], 10);  // from after c2
  BOOST_REQUIRE(page2.size() == 1u);
  BOOST_TEST(to_hex(page2[0].id) == to_hex(c1));
  BOOST_REQUIRE(index->replies_of(whole, c1, std::nullopt, 10).size() == 1u);
  BOOST_TEST(to_hex(index->replies_of(whole, c1, std::nullopt, 10)[0].id) == to_hex(r1));
  BOOST_TEST(index->social(whole).comments == 3u);
  // The author's edit becomes the current version; the count stays.
  auto e1 = add(comment(alice, 5000, "first, edited", std::nullopt, c1));
  BOOST_TEST(to_hex(*index->current(protocol::RecordKind::comment, alice.public_key(), c1)) == to_hex(e1));
  BOOST_TEST(index->social(whole).comments == 3u);
  BOOST_TEST(index->comments_of(whole, std::nullopt, 10).size() == 2u);  // edits are not listed themselves
  // Someone else's "edit" of it is theirs alone: alice's comment is unchanged.
  add(comment(bob, 6000, "hijacked", std::nullopt, c1));
  BOOST_TEST(to_hex(*index->current(protocol::RecordKind::comment, alice.public_key(), c1)) == to_hex(e1));
  // A deletion withdraws it from the count; an older edit arriving late changes nothing.
  add(comment(alice, 7000, "", std::nullopt, c1, true));
  BOOST_TEST(index->social(whole).comments == 2u);  // bob's two: his "edit" of alice's comment counts for nothing
  auto late = index->ingest(comment(alice, 6500, "late edit", std::nullopt, c1));
  BOOST_TEST((late.status == IngestStatus::superseded));
  BOOST_TEST(index->social(whole).comments == 2u);
  // An edit that arrives before its comment still wins over it.
  auto c3 = comment(alice, 8000, "third");
  auto c3_id = protocol::record_id_of(c3);
  auto e3 = add(comment(alice, 9000, "third, edited", std::nullopt, c3_id));
  auto out = index->ingest(c3);
  BOOST_TEST((out.status == IngestStatus::superseded));
  BOOST_TEST(to_hex(*index->current(protocol::RecordKind::comment, alice.public_key(), c3_id)) == to_hex(e3));
  BOOST_TEST(index->comments_of(whole, std::nullopt, 10).size() == 3u);  // c3 is listed, as first written
  BOOST_TEST(index->social(whole).comments == 3u);
  // A deletion that arrives before its comment: never counted.
  auto c4 = comment(alice, 10000, "fourth");
  add(comment(alice, 11000, "", std::nullopt, protocol::record_id_of(c4), true));
  BOOST_TEST(index->social(whole).comments == 3u);
  index->ingest(c4);
  BOOST_TEST(index->social(whole).comments == 3u);
}

BOOST_AUTO_TEST_CASE(replies_count_only_under_a_top_level_comment_about_the_same_subject_in_any_order) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  Subject whole{release, std::nullopt, std::nullopt};
  Subject image{release, protocol::Sha256Digest{9}, std::nullopt};
  auto comment = [&](const Subject& subject, std::uint64_t t, std::optional<protocol::RecordId> parent = std::nullopt,
                     std::optional<protocol::RecordId> edits = std::nullopt) {
    return testing::sign_social(bob, protocol::CommentDraft{subject, parent, "text", edits, false}, t);
  };
  // Replies that arrive before their comment count once it arrives.
  auto top = comment(whole, 2000);
  auto top_id = protocol::record_id_of(top);
  auto r1 = add(comment(whole, 3000, top_id));
  add(comment(whole, 3100, top_id));
  BOOST_TEST(index->social(whole).comments == 0u);
  add(top);
  BOOST_TEST(index->social(whole).comments == 3u);
  // A reply to a reply, or about another subject, is never counted or listed under it.
  add(comment(whole, 4000, r1));
  add(comment(image, 4100, top_id));
  BOOST_TEST(index->social(whole).comments == 3u);
  BOOST_TEST(index->social(image).comments == 0u);
  BOOST_TEST(index->replies_of(whole, top_id, std::nullopt, 10).size() == 2u);
  auto after_first = index->replies_of(whole, top_id, std::nullopt, 1);
  BOOST_REQUIRE(after_first.size() == 1u);
  BOOST_TEST(to_hex(index->replies_of(whole, top_id, after_first[0], 10).at(0).id) != to_hex(after_first[0].id));
  // An edit that moves a comment elsewhere is not shown, and its deletion
  // flag does not take the comment out of the count.
  auto moved = testing::sign_social(bob, protocol::CommentDraft{image, std::nullopt, "", top_id, true}, 5000);
  add(moved);
  BOOST_TEST(index->social(whole).comments == 3u);
}

BOOST_AUTO_TEST_CASE(reactions_comments_and_updates_kept_opaque_by_an_older_seedbank_count_after_the_upgrade) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  Subject whole{release, std::nullopt, std::nullopt};
  auto change = protocol::update_draft_of(*index->get(release));
  change.tags = {"upgraded"};
  auto update = testing::sign_social(alice, change, 4000);
  auto reaction = testing::sign_reaction(bob, whole, protocol::ReactionKind::heart, 2000);
  auto comment =
      testing::sign_social(bob, protocol::CommentDraft{whole, std::nullopt, "hi", std::nullopt, false}, 3000);
  // Stored as an older seedbank stores a kind it does not know: the record,
  // its reconciliation key and an `opaque` entry, no views.
  index.reset();
  edit_raw([&](MDB_txn* txn) {
    auto put = [&](const char* db, const protocol::Bytes& k, const protocol::Bytes& v) {
      MDB_dbi dbi;
      BOOST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
      MDB_val key{k.size(), const_cast<std::uint8_t*>(k.data())}, val{v.size(), const_cast<std::uint8_t*>(v.data())};
      BOOST_REQUIRE(mdb_put(txn, dbi, &key, &val, 0) == 0);
    };
    for (const auto& [bytes, t, tag] : {std::tuple{reaction, std::uint64_t{2000}, std::uint8_t{7}},
                                        std::tuple{comment, std::uint64_t{3000}, std::uint8_t{8}},
                                        std::tuple{update, std::uint64_t{4000}, std::uint8_t{9}}}) {
      auto id = protocol::record_id_of(bytes);
      protocol::Bytes id_key(id.begin(), id.end()), time_key;
      for (int i = 7; i >= 0; --i) time_key.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
      time_key.insert(time_key.end(), id.begin(), id.end());
      put("records", id_key, bytes);
      put("by_time", time_key, {});
      put("opaque", id_key, {0, tag});
    }
  });
  reopen();
  BOOST_TEST(index->social(whole).heart == 1u);
  BOOST_TEST(index->social(whole).comments == 1u);
  BOOST_TEST(index->comments_of(whole, std::nullopt, 10).size() == 1u);
  // The update shows, and the release is listed by its new tag, not its old ones.
  ReleaseQuery q;
  q.tag = "upgraded";
  BOOST_TEST(index->query_releases(q)->items.size() == 1u);
  q.tag = "detail";
  BOOST_TEST(index->query_releases(q)->items.size() == 0u);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& tag : index->top_tags(10)) counts[tag.name] = tag.models;
  BOOST_TEST((counts == std::map<std::string, std::uint64_t>{{"upgraded", 1}}));
}

BOOST_AUTO_TEST_CASE(admission_asks_work_of_every_reaction_and_comment_and_caps_them_apart) {
  Admission admission;
  admission.social_work_bits = 12;
  admission.social_per_hour = 3;
  admission.per_author_per_hour = 100;
  auto now = testing::now_ms();
  auto release = add(testing::sign_release(alice, testing::sample_release(1), now - 5000));
  Subject whole{release, std::nullopt, std::nullopt};
  auto batch = [&](std::vector<protocol::Bytes> records) {
    int added = 0;
    for (auto& o : index->ingest_batch(records, Durability::replicated, admission))
      added += o.status == IngestStatus::added;
    return added;
  };
  // A reaction stamped with less work than asked is refused, whoever signs it.
  auto weak =
      testing::sign_reaction(alice, whole, protocol::ReactionKind::like, testing::unstamped_time(alice, now, 12), 0);
  auto out = index->ingest_batch(std::vector<protocol::Bytes>{weak}, Durability::replicated, admission);
  BOOST_TEST((out[0].status == IngestStatus::rejected));
  BOOST_TEST((out[0].error.code == protocol::ErrorCode::refused));
  BOOST_TEST(out[0].error.message.find("reaction") != std::string::npos, out[0].error.message);
  // Stamped: at most social_per_hour of them per author.
  std::vector<protocol::Bytes> comments;
  for (int i = 0; i < 5; ++i)
    comments.push_back(testing::sign_social(
        bob, protocol::CommentDraft{whole, std::nullopt, "c" + std::to_string(i), std::nullopt, false}, now - i, 12));
  BOOST_TEST(batch(comments) == 3);
  // Other records of the same author are not held back by that cap.
  BOOST_TEST(batch({testing::sign_release(bob, testing::sample_release(2), now)}) == 1);
  BOOST_TEST(index->social(whole).comments == 3u);
}

BOOST_AUTO_TEST_CASE(search_finds_names_tags_trigger_words_versions_descriptions_and_creators_ranked) {
  auto lamp = testing::sample_release(1);
  lamp.model_name = "Sunset Lamp";
  lamp.version_name = "v2 golden";
  lamp.tags = {"product"};
  lamp.trigger_words = {"lmp style"};
  lamp.description = "A lamp for **interior** photography.";
  auto shots = testing::sample_release(2);
  shots.model_name = "Product Shots";
  shots.tags = {"photo"};
  auto lamp_id = add(testing::sign_release(alice, lamp, 1000));
  auto shots_id = add(testing::sign_release(bob, shots, 2000));
  add(testing::sign_social(bob, protocol::ProfileDraft{"Lamp Maker", "", {}, std::nullopt}, 2500));
  auto search = [&](const std::string& text, SortOrder sort = SortOrder::relevance) {
    ReleaseQuery q;
    q.text = text;
    q.sort = sort;
    auto page = index->query_releases(q);
    BOOST_REQUIRE(page);
    std::vector<std::string> out;
    for (const auto& r : page->items) out.push_back(to_hex(r.id()));
    return out;
  };
  const auto a = to_hex(lamp_id), b = to_hex(shots_id);
  using V = std::vector<std::string>;
  // A model name outranks a tag; a tag finds what its name does not.
  BOOST_TEST(search("prod") == (V{b, a}));
  BOOST_TEST(search("prod", SortOrder::newest) == (V{b, a}));
  BOOST_TEST(search("lmp") == V{a});       // a trigger word
  BOOST_TEST(search("golden") == V{a});    // the version name
  BOOST_TEST(search("interior") == V{a});  // the description
  BOOST_TEST(search("lamp sunset") == V{a});
  BOOST_TEST(search("lamp nothing").empty());
  // The creator's display name (here it also beats the lamp's description)
  // and key.
  BOOST_TEST(search("maker") == V{b});
  BOOST_TEST(search("lamp") == (V{a, b}));
  BOOST_TEST(search(bob.public_key().to_text()) == V{b});
  // A new profile name replaces the old one in search.
  add(testing::sign_social(bob, protocol::ProfileDraft{"Painter", "", {}, std::nullopt}, 3000));
  BOOST_TEST(search("maker").empty());
  BOOST_TEST(search("paint") == V{b});
  // An index written before the search tables builds them when opened.
  index.reset();
  edit_raw([&](MDB_txn* txn) {
    for (const char* name : {"terms", "name_words"}) {
      MDB_dbi dbi;
      BOOST_REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
      BOOST_REQUIRE(mdb_drop(txn, dbi, 1) == 0);
    }
    MDB_dbi meta;
    BOOST_REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val k{6, const_cast<char*>("search")};
    BOOST_REQUIRE(mdb_del(txn, meta, &k, nullptr) == 0);
  });
  reopen();
  BOOST_TEST(search("lmp") == V{a});
  BOOST_TEST(search("paint") == V{b});
}

// A release update by the release's author (schema ReleaseUpdate) changes
// what the release shows (descriptions, tags, trigger words, NSFW, which
// sample images and their levels), in whichever order the two arrive; the
// signed release stays as it was. Another key's "update" changes nothing.
BOOST_AUTO_TEST_CASE(an_update_by_the_author_changes_what_the_release_shows_in_any_order) {
  auto draft = testing::sample_release(7);
  draft.tags = {"old-tag"};
  draft.model_description = "First page";
  auto second = draft.images[0];
  second.name = "second.png";
  second.sha256 = testing::fake_digest(7, 9);
  draft.images.push_back(second);
  const auto release_bytes = testing::sign_release(alice, draft, 1000);
  auto release = protocol::load_stored_record(release_bytes);
  SB_REQUIRE_OK(release);
  auto change = protocol::update_draft_of(*release);
  change.model_description = "Second page zebracorn";
  change.tags = {"new-tag"};
  change.images = {change.images[1]};
  change.images[0].nsfw_level = protocol::kX;
  change.nsfw = true;
  const auto update_bytes = testing::sign_social(alice, change, 2000);
  auto hijack = protocol::update_draft_of(*release);
  hijack.model_description = "hijacked";
  hijack.tags = {"hijack-tag"};
  const auto hijack_bytes = testing::sign_social(bob, hijack, 3000);

  auto found = [&](auto fill) {
    ReleaseQuery q;
    fill(q);
    auto page = index->query_releases(q);
    BOOST_REQUIRE(page);
    return page->items.size();
  };
  auto tag_count = [&](const std::string& tag) {
    for (const auto& t : index->top_tags(100))
      if (t.name == tag) return t.models;
    return std::uint64_t{0};
  };
  for (bool update_first : {false, true}) {
    BOOST_TEST_CONTEXT("update first: " << update_first) {
      index.reset();
      fs::remove_all(dir);
      reopen();
      if (update_first) add(update_bytes);
      add(release_bytes);
      if (!update_first) add(update_bytes);
      add(hijack_bytes);  // stored (it replicates), shown nowhere
      auto signed_release = index->get(release->id());
      SB_REQUIRE_OK(signed_release);
      BOOST_TEST(signed_release->body().getPayload().getRelease().getModelDescription().cStr() ==
                 std::string("First page"));
      auto shown = index->shown(*signed_release);
      BOOST_TEST(shown.id() == release->id());
      auto r = shown.body().getPayload().getRelease();
      BOOST_TEST(r.getModelDescription().cStr() == std::string("Second page zebracorn"));
      BOOST_TEST(r.getDescription().cStr() == draft.description);
      BOOST_REQUIRE_EQUAL(r.getTags().size(), 1u);
      BOOST_TEST(r.getTags()[0].cStr() == std::string("new-tag"));
      BOOST_TEST(r.getNsfw());
      BOOST_REQUIRE_EQUAL(r.getImages().size(), 1u);
      BOOST_TEST((protocol::util::digest_of(r.getImages()[0].getSha256()) == second.sha256));
      BOOST_TEST(r.getImages()[0].getName().cStr() == std::string("second.png"));
      BOOST_TEST(protocol::nsfw_level_of(r.getImages()[0]) == protocol::kX);
      BOOST_TEST(r.getFiles().size() == 1u);
      BOOST_TEST((index->update_of(*signed_release) == protocol::record_id_of(update_bytes)));
      // Listings, tags and search go by what is shown.
      BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "new-tag"; }) == 1u);
      BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "old-tag"; }) == 0u);
      BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "hijack-tag"; }) == 0u);
      BOOST_TEST(found([](ReleaseQuery& q) { q.text = "zebracorn"; }) == 1u);
      BOOST_TEST(found([](ReleaseQuery& q) { q.text = "hijacked"; }) == 0u);
      BOOST_TEST(found([](ReleaseQuery& q) { q.hide_nsfw = true; }) == 0u);
      BOOST_TEST(tag_count("new-tag") == 1u);
      BOOST_TEST(tag_count("old-tag") == 0u);
      BOOST_TEST(tag_count("hijack-tag") == 0u);
      // The tables themselves, not only what matches() re-checks.
      using namespace std::string_view_literals;
      BOOST_TEST(raw_count("rel_tag", "new-tag\0"sv) == 1u);
      BOOST_TEST(raw_count("rel_tag", "old-tag\0"sv) == 0u);
      BOOST_TEST(raw_count("terms", "zebracorn\0"sv) == 1u);
      BOOST_TEST(raw_count("terms", "hijacked\0"sv) == 0u);
    }
  }
  // A newer update replaces the older one whole; an older one arriving
  // late changes nothing.
  auto back = change;
  back.tags = {"old-tag"};
  back.nsfw = false;
  add(testing::sign_social(alice, back, 4000));
  auto stale = change;
  stale.tags = {"stale-tag"};
  BOOST_TEST((index->ingest(testing::sign_social(alice, stale, 1500)).status == IngestStatus::superseded));
  BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "old-tag"; }) == 1u);
  BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "new-tag"; }) == 0u);
  BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "stale-tag"; }) == 0u);
  BOOST_TEST(found([](ReleaseQuery& q) { q.hide_nsfw = true; }) == 1u);
  BOOST_TEST(tag_count("old-tag") == 1u);
  BOOST_TEST(tag_count("new-tag") == 0u);
  // A newer version becomes the model's head: the tag counts follow it, and
  // go back to the updated version when the newer one is retracted.
  auto v2 = draft;
  v2.version_name = "v2.0";
  v2.tags = {"v2-tag"};
  v2.files[0].sha256 = testing::fake_digest(8, 1);
  auto v2_id = add(testing::sign_release(alice, v2, 5000));
  BOOST_TEST(tag_count("old-tag") == 0u);
  BOOST_TEST(tag_count("v2-tag") == 1u);
  add(testing::sign_social(alice, protocol::RetractionDraft{v2_id, "oops"}, 6000));
  BOOST_TEST(tag_count("old-tag") == 1u);
  BOOST_TEST(tag_count("v2-tag") == 0u);
  // And all of it holds when the index is opened again.
  reopen();
  BOOST_TEST(found([](ReleaseQuery& q) { q.text = "zebracorn"; }) == 1u);
  BOOST_TEST(found([](ReleaseQuery& q) { q.tag = "old-tag"; }) == 1u);
}

// An update its author's key signed after the key was revoked (or one
// the revocation's keep list leaves out) shows nothing: the release goes
// back to its signed state on every node, whichever came first.
BOOST_AUTO_TEST_CASE(a_revocation_voids_the_thiefs_update_of_a_page) {
  using namespace std::string_view_literals;
  auto owner_new = SecretKey::generate();
  auto draft = testing::sample_release(11);
  draft.tags = {"signed-tag"};
  auto release_bytes = testing::sign_release(alice, draft, 1000);
  auto release_id = protocol::record_id_of(release_bytes);
  auto change = protocol::update_draft_of(*protocol::load_stored_record(release_bytes));
  change.tags = {"thief-tag"};
  change.model_description = "send coins to the thief";
  auto update = testing::sign_social(alice, change, 2000);
  const std::uint64_t t = 3000;
  auto consent = owner_new.sign(protocol::rotation_message(alice.public_key(), owner_new.public_key(), t));
  auto rotation = protocol::sign_record(alice, "test", t, [&](schema::RecordBody::Builder b) {
    auto r = b.initPayload().initKeyRotation();
    r.setNewKey(capnp::Data::Reader(owner_new.public_key().bytes.data(), 32));
    r.setNewKeySignature(capnp::Data::Reader(consent.data(), 64));
    r.setRevokeOld(true);
    r.setKeepListed(true);
    r.initKeep(1).set(0, capnp::Data::Reader(release_id.data(), 32));  // the release, not the update
  });
  SB_REQUIRE_OK(rotation);
  auto tagged = [&](const std::string& tag) {
    ReleaseQuery q;
    q.tag = tag;
    return index->query_releases(q)->items.size();
  };
  add(release_bytes);
  add(update);
  BOOST_TEST(tagged("thief-tag") == 1u);
  BOOST_TEST(raw_count("rel_tag", "thief-tag\0"sv) == 1u);
  add(*rotation);
  auto rec = index->get(release_id);
  SB_REQUIRE_OK(rec);
  BOOST_TEST(!index->update_of(*rec).has_value());
  BOOST_TEST(index->shown(*rec).body().getPayload().getRelease().getModelDescription().size() == 0u);
  BOOST_TEST(tagged("signed-tag") == 1u);
  BOOST_TEST(tagged("thief-tag") == 0u);
  BOOST_TEST(raw_count("rel_tag", "thief-tag\0"sv) == 0u);
  BOOST_TEST(raw_count("rel_tag", "signed-tag\0"sv) == 1u);
  BOOST_TEST(raw_count("terms", "thief\0"sv) == 0u);
  BOOST_TEST(raw_count("tags", "thief-tag"sv) == 0u);
  BOOST_TEST(raw_count("tags", "signed-tag"sv) == 1u);
}

// An older seedbank that does not know updates indexes a release by its
// signed state even when an update of it is current; the next open of a
// seedbank that knows them puts the release back as shown.
BOOST_AUTO_TEST_CASE(what_an_older_seedbank_indexed_by_the_signed_state_is_repaired_on_open) {
  using namespace std::string_view_literals;
  auto draft = testing::sample_release(12);
  draft.tags = {"signed-tag"};
  auto release_bytes = testing::sign_release(alice, draft, 1000);
  auto release_id = protocol::record_id_of(release_bytes);
  auto change = protocol::update_draft_of(*protocol::load_stored_record(release_bytes));
  change.tags = {"shown-tag"};
  add(release_bytes);
  add(testing::sign_social(alice, change, 2000));
  BOOST_TEST(raw_count("rel_tag", "shown-tag\0"sv) == 1u);
  // As the older seedbank leaves it: the signed tags indexed and counted,
  // the shown ones not, and its records stored without meta `views`.
  index.reset();
  edit_raw([&](MDB_txn* txn) {
    auto open = [&](const char* name) {
      MDB_dbi dbi;
      BOOST_REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
      return dbi;
    };
    auto rel_tag = open("rel_tag"), tags = open("tags"), meta = open("meta");
    std::vector<std::string> shown_keys;
    MDB_cursor* c = nullptr;
    BOOST_REQUIRE(mdb_cursor_open(txn, rel_tag, &c) == 0);
    MDB_val k{10, const_cast<char*>("shown-tag")}, v{};
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && std::string_view(static_cast<char*>(k.mv_data), k.mv_size).starts_with("shown-tag\0"sv);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
      shown_keys.emplace_back(static_cast<char*>(k.mv_data), k.mv_size);
    mdb_cursor_close(c);
    BOOST_REQUIRE_EQUAL(shown_keys.size(), 1u);
    for (auto& key : shown_keys) {
      MDB_val del{key.size(), key.data()};
      BOOST_REQUIRE(mdb_del(txn, rel_tag, &del, nullptr) == 0);
      std::string signed_key = "signed-tag" + key.substr(9);
      MDB_val put{signed_key.size(), signed_key.data()}, empty{0, nullptr};
      BOOST_REQUIRE(mdb_put(txn, rel_tag, &put, &empty, 0) == 0);
    }
    BOOST_REQUIRE(mdb_drop(txn, tags, 0) == 0);
    // It stored a record (its count moved, meta `views` did not), and one
    // of a kind it did not know, which this open indexes (and counts)
    // before judging what is stale.
    auto bump = [&](const char* key) {
      MDB_val k{std::strlen(key), const_cast<char*>(key)}, v{};
      BOOST_REQUIRE(mdb_get(txn, meta, &k, &v) == 0);
      std::uint8_t n[8];
      std::memcpy(n, v.mv_data, 8);
      for (int i = 7; i >= 0 && ++n[i] == 0; --i) {
      }
      MDB_val nv{8, n};
      BOOST_REQUIRE(mdb_put(txn, meta, &k, &nv, 0) == 0);
    };
    bump("count/release");
    auto opaque =
        testing::sign_reaction(bob, {release_id, std::nullopt, std::nullopt}, protocol::ReactionKind::like, 3000);
    auto id = protocol::record_id_of(opaque);
    std::string id_key(id.begin(), id.end()), time_key(8, '\0');
    for (int i = 0; i < 8; ++i)
      time_key[static_cast<std::size_t>(i)] = static_cast<char>((3000ull >> (56 - 8 * i)) & 0xff);
    time_key += id_key;
    auto put = [&](const char* name, const std::string& key, std::string_view value) {
      MDB_dbi dbi;
      BOOST_REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
      MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
      BOOST_REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    };
    put("records", id_key, std::string_view(reinterpret_cast<const char*>(opaque.data()), opaque.size()));
    put("by_time", time_key, {});
    put("opaque", id_key, std::string_view("\0\7", 2));
  });
  reopen();
  BOOST_TEST(raw_count("rel_tag", "signed-tag\0"sv) == 0u);
  BOOST_TEST(raw_count("rel_tag", "shown-tag\0"sv) == 1u);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& tag : index->top_tags(10)) counts[tag.name] = tag.models;
  BOOST_TEST((counts == std::map<std::string, std::uint64_t>{{"shown-tag", 1}}));
  BOOST_TEST(index->social({release_id, std::nullopt, std::nullopt}).like == 1u);  // the opaque one, indexed
}

// Subjects ranked by their reactions (and comments), most first, kept as
// reactions change and rebuilt when an index comes without the ranking.
BOOST_AUTO_TEST_CASE(subjects_rank_by_reactions_and_comments_most_first) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  Subject image{release, testing::fake_digest(1, 5), std::nullopt};
  Subject post{release, std::nullopt, testing::fake_digest(9, 9)};
  Subject whole{release, std::nullopt, std::nullopt};
  std::vector<SecretKey> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(SecretKey::generate());
  std::uint64_t t = 2000;
  for (const auto& k : keys) add(testing::sign_reaction(k, post, protocol::ReactionKind::heart, ++t));
  add(testing::sign_reaction(keys[0], image, protocol::ReactionKind::like, ++t));
  add(testing::sign_reaction(keys[1], image, protocol::ReactionKind::laugh, ++t));
  add(testing::sign_reaction(keys[0], whole, protocol::ReactionKind::like, ++t));
  add(testing::sign_social(keys[2], protocol::CommentDraft{image, std::nullopt, "nice", std::nullopt, false}, ++t));
  auto order = [&](bool comments) {
    std::vector<std::pair<std::uint32_t, Bytes>> out;
    std::optional<Bytes> after;
    for (;;) {  // one at a time, through the positions
      auto page = index->most_social(comments, after, 1);
      if (page.empty()) break;
      out.emplace_back(page[0].count, subject_key(page[0].subject));
      after = page[0].position;
    }
    return out;
  };
  using Ranked = std::vector<std::pair<std::uint32_t, Bytes>>;
  // Images only: the release's own reactions are not ranked.
  BOOST_TEST((order(false) == Ranked{{3, subject_key(post)}, {2, subject_key(image)}}));
  BOOST_TEST((order(true) == Ranked{{1, subject_key(image)}}));
  // A reaction withdrawn and another changed: the order follows.
  add(testing::sign_reaction(keys[0], post, protocol::ReactionKind::none, ++t));
  add(testing::sign_reaction(keys[1], post, protocol::ReactionKind::none, ++t));
  add(testing::sign_reaction(keys[2], whole, protocol::ReactionKind::cry, ++t));
  BOOST_TEST((order(false) == Ranked{{2, subject_key(image)}, {1, subject_key(post)}}));
  // Ties go by subject key, descending.
  add(testing::sign_reaction(SecretKey::generate(), post, protocol::ReactionKind::cry, ++t));
  BOOST_TEST((order(false) == Ranked{{2, subject_key(post)}, {2, subject_key(image)}}));
  const auto before = order(false);
  // An index whose ranking an older seedbank did not keep builds it again.
  index.reset();
  edit_raw([&](MDB_txn* txn) {
    MDB_dbi rank, meta;
    BOOST_REQUIRE(mdb_dbi_open(txn, "social_rank", 0, &rank) == 0);
    BOOST_REQUIRE(mdb_drop(txn, rank, 0) == 0);
    BOOST_REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val k{11, const_cast<char*>("social_rank")};
    BOOST_REQUIRE(mdb_del(txn, meta, &k, nullptr) == 0);
  });
  reopen();
  BOOST_TEST((order(false) == before));
  BOOST_TEST((order(true) == Ranked{{1, subject_key(image)}}));
}

// Curators' lists rate images (CuratedLevel): the highest rating of the
// curators a node follows applies, a newer list replaces its own older
// one, and a level this version does not know is not applied.
BOOST_AUTO_TEST_CASE(curators_rate_images_and_the_highest_of_those_followed_applies) {
  using Target = protocol::DenyEntryDraft::Target;
  auto image = testing::fake_digest(1, 5);
  auto rate = [&](const SecretKey& curator, std::uint8_t level, std::uint64_t t) {
    protocol::DenyListDraft list{"ratings", {{Target::nsfw_level, image, "", level}}};
    return testing::sign_social(curator, list, t);
  };
  BOOST_TEST(index->curated_level(image, {alice.public_key()}) == 0u);
  add(rate(alice, protocol::kR, 1000));
  add(rate(bob, protocol::kXXX, 1000));
  BOOST_TEST(index->curated_level(image, {alice.public_key()}) == protocol::kR);
  BOOST_TEST(index->curated_level(image, {alice.public_key(), bob.public_key()}) == protocol::kXXX);
  BOOST_TEST(index->curated_level(image, {}) == 0u);
  BOOST_TEST(index->curated_level(testing::fake_digest(2, 5), {alice.public_key()}) == 0u);
  // Not a denial of the image.
  BOOST_TEST(!index->is_denied(image, {alice.public_key(), bob.public_key()}));
  add(rate(alice, protocol::kPG13, 2000));  // alice's newer list
  BOOST_TEST(index->curated_level(image, {alice.public_key()}) == protocol::kPG13);
  // A level from a newer schema (32) is kept and not applied.
  auto carol = SecretKey::generate();
  auto odd = protocol::sign_record(
      carol, "test", 3000,
      [&](schema::RecordBody::Builder b) {
        auto list = b.initPayload().initDenyList();
        list.setName("ratings");
        auto level = list.initEntries(1)[0].initTarget().initNsfwLevel();
        level.setSha256(capnp::Data::Reader(image.data(), 32));
        level.setLevel(32);
      },
      testing::kTestWorkBits);
  SB_REQUIRE_OK(odd);
  add(*odd);
  BOOST_TEST(index->curated_level(image, {carol.public_key()}) == 0u);
  // A draft with a level that is not one is refused before signing.
  protocol::DenyListDraft bad{"ratings", {{Target::nsfw_level, image, "", 3}}};
  BOOST_TEST(!protocol::sign_draft(alice, "test", 4000, bad, 0));
}

BOOST_AUTO_TEST_CASE(collections_are_one_per_author_and_slug_listed_newest_first_and_found_by_number) {
  auto one = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto two = add(testing::sign_release(alice, testing::sample_release(2), 1000));
  auto collection = [&](const SecretKey& key, std::string slug, std::string name, std::vector<protocol::RecordId> ids,
                        std::uint64_t t, bool deleted = false) {
    protocol::CollectionDraft d{std::move(slug), std::move(name), "", {}, deleted};
    for (const auto& id : ids) d.items.push_back({{id, std::nullopt, std::nullopt}, ""});
    return testing::sign_social(key, d, t);
  };
  auto a1 = add(collection(alice, "best", "Best", {one}, 2000));
  auto b1 = add(collection(bob, "best", "Bob's best", {two, one}, 3000));
  auto a2 = add(collection(alice, "faces", "Faces", {two}, 4000));
  // Newest first, each author's slug once.
  auto listed = index->collections(std::nullopt, 10);
  BOOST_REQUIRE(listed.size() == 3u);
  BOOST_TEST((listed[0].id == a2 && listed[1].id == b1 && listed[2].id == a1));
  // A page goes on after the last entry of the previous one.
  auto next = index->collections(listed[0], 10);
  BOOST_REQUIRE(next.size() == 2u);
  BOOST_TEST((next[0].id == b1));
  // A newer collection of the same author and slug replaces the older, in
  // the list and by number; another author's of that slug is another.
  auto a3 = add(collection(alice, "best", "Best, renamed", {two, one}, 5000));
  listed = index->collections(std::nullopt, 10);
  BOOST_REQUIRE(listed.size() == 3u);
  BOOST_TEST((listed[0].id == a3));
  auto number = numeric_id(collection_key(alice.public_key(), "best"));
  BOOST_TEST((index->collection_by_number(number) == a3));
  BOOST_TEST((index->collection_by_number(numeric_id(collection_key(bob.public_key(), "best"))) == b1));
  BOOST_TEST(!index->collection_by_number(number + 1));
  BOOST_TEST(index->collections_by(alice.public_key(), 10).size() == 2u);
  // An older one arriving late changes nothing.
  auto late = index->ingest(collection(alice, "best", "Stale", {one}, 4500));
  BOOST_TEST((late.status == IngestStatus::superseded));
  BOOST_TEST((index->collection_by_number(number) == a3));
  // A deletion leaves the lists; its number names the deletion.
  auto gone = add(collection(alice, "best", "", {}, 6000, true));
  listed = index->collections(std::nullopt, 10);
  BOOST_REQUIRE(listed.size() == 2u);
  BOOST_TEST((listed[0].id == a2 && listed[1].id == b1));
  BOOST_TEST((index->collection_by_number(number) == gone));
  BOOST_TEST(index->collections_by(alice.public_key(), 10).size() == 1u);
  reopen();
  BOOST_TEST(index->collections(std::nullopt, 10).size() == 2u);
  BOOST_TEST(index->stats().by_kind[static_cast<int>(protocol::RecordKind::collection)] == 6u);
  // A collection with a bad slug or a deletion with items is never stored.
  protocol::CollectionDraft bad{"Not A Slug", "x", "", {}, false};
  BOOST_TEST(!protocol::sign_draft(alice, "test", 7000, bad, 0));
  auto raw = protocol::sign_record(alice, "test", 7000, [](schema::RecordBody::Builder b) {
    auto c = b.initPayload().initCollection();
    c.setSlug("Not A Slug");
    c.setName("x");
  });
  BOOST_TEST(!raw);  // sign_record checks what verify_record checks
}

// A full index is the node's own limit, not a record's fault: io (gossip
// keeps the peer that sent it), saying how to raise the limit; what was
// stored before stays.
BOOST_AUTO_TEST_CASE(a_full_index_fails_as_the_nodes_own_limit) {
  auto full = open_at(dir / "small", 1u << 20);
  std::size_t stored = 0;
  std::optional<protocol::Error> error;
  for (std::uint64_t n = 0; n < 5000 && !error; ++n) {
    auto draft = seedbank::testing::sample_release(n);
    draft.description = std::string(8000, 'd');
    auto out = full->ingest(seedbank::testing::sign_release(alice, draft, seedbank::testing::now_ms() - n));
    if (out.status == IngestStatus::added)
      ++stored;
    else
      error = out.error;
  }
  BOOST_TEST_REQUIRE(error.has_value(), "5000 releases fit in 1 MiB");
  BOOST_TEST(stored > 0u);
  BOOST_CHECK(error->code == protocol::ErrorCode::io);
  BOOST_TEST(error->message.find("indexSize") != std::string::npos, error->message);
  BOOST_TEST(full->stats().records == stored);
}

// A full map grows to the limit size_limit gives once that is raised (a
// running node reading a raised indexSize): the write that found it full
// goes through, nothing stored before is lost, and readers on other
// threads keep reading while the map is resized under them.
BOOST_AUTO_TEST_CASE(a_full_index_grows_to_a_raised_limit_while_readers_keep_reading) {
  std::atomic<std::uint64_t> limit{1u << 20};
  IndexOptions options;
  options.dir = dir / "grows";
  options.network = "test";
  options.map_size = 1u << 20;
  options.size_limit = [&] { return limit.load(); };
  auto opened = Index::open(options);
  SB_REQUIRE_OK(opened);
  auto grows = std::move(opened).value();
  auto first = grows->ingest(seedbank::testing::sign_release(alice, seedbank::testing::sample_release(0), 1000));
  BOOST_REQUIRE(first.status == IngestStatus::added);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reads{0}, failed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        auto got = grows->get(first.id);
        auto found = grows->find_by_hash(to_hex(first.id));
        if (!got || !found || found->empty()) ++failed;
        ++reads;
      }
    });
  struct Join {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Join() {
      stop = true;
      for (auto& t : threads) t.join();
    }
  } join{stop, readers};

  std::uint64_t stored = 1, signed_bytes = 0;
  std::optional<protocol::Error> error;
  std::vector<protocol::Bytes> batch;
  for (std::uint64_t n = 1; n < 5000 && !error; ++n) {
    auto draft = seedbank::testing::sample_release(n);
    draft.description = std::string(8000, 'd');
    auto bytes = seedbank::testing::sign_release(alice, draft, seedbank::testing::now_ms() - n);
    auto out = grows->ingest(bytes);
    if (out.status == IngestStatus::added) {
      ++stored;
      signed_bytes += bytes.size();
    } else {
      error = out.error;
      batch.push_back(bytes);
    }
  }
  BOOST_TEST_REQUIRE(error.has_value(), "5000 releases fit in 1 MiB");
  BOOST_TEST(error->message.find("the index reached its size limit") != std::string::npos, error->message);
  BOOST_TEST(grows->space().limit == (1u << 20));

  // Raised: the batch that begins with the release refused above goes in whole.
  limit = 16u << 20;
  for (std::uint64_t n = 0; n < 200; ++n) {  // 1.6 MB: more than the whole map
    auto draft = seedbank::testing::sample_release(10000 + n);
    draft.description = std::string(8000, 'e');
    batch.push_back(seedbank::testing::sign_release(bob, draft, seedbank::testing::now_ms() - n));
  }
  // But not from inside a read on the same thread (a visit callback): the
  // resize would wait for that read. It fails as full, at once.
  std::vector<IngestOutcome> inside;
  grows->for_each_by_time(0, [&](std::uint64_t, const protocol::RecordId&) {
    inside = grows->ingest_batch(batch);
    return false;
  });
  BOOST_TEST_REQUIRE(inside.size() == batch.size());
  for (const auto& o : inside) BOOST_TEST_REQUIRE((o.status == IngestStatus::rejected));
  BOOST_TEST(grows->space().limit == (1u << 20));
  auto outcomes = grows->ingest_batch(batch);
  for (const auto& o : outcomes) BOOST_TEST_REQUIRE((o.status == IngestStatus::added), o.error.message);
  for (const auto& b : batch) signed_bytes += b.size();
  stored += batch.size();
  stop = true;
  for (auto& t : readers) t.join();
  readers.clear();
  BOOST_TEST(failed.load() == 0u, failed.load() << " of " << reads.load() << " reads failed");
  BOOST_TEST(reads.load() > 0u);
  BOOST_TEST(grows->stats().records == stored);
  BOOST_TEST(grows->space().limit == (16u << 20));
  BOOST_TEST(grows->get(first.id).ok());

  // Where the bytes went: every release's signed bytes, and parts that add up.
  auto space = grows->space();
  auto release = static_cast<int>(protocol::RecordKind::release);
  BOOST_TEST(space.record_bytes[release] ==
             signed_bytes + seedbank::testing::sign_release(alice, seedbank::testing::sample_release(0), 1000).size());
  BOOST_TEST(space.by_kind[release] > space.record_bytes[release]);  // its records, and the views of them
  std::uint64_t parts = space.shared + space.free;
  for (auto b : space.by_kind) parts += b;
  BOOST_TEST(parts == space.used);
  BOOST_TEST(space.free * 4 < space.used, space.free << " of " << space.used << " bytes unaccounted for");
  BOOST_TEST(space.used <= space.limit);
}

// Bytes per kind are counted for an index an older seedbank wrote (it kept
// no such count) when it is opened, and kept as records arrive.
BOOST_AUTO_TEST_CASE(index_bytes_per_kind_are_counted_for_an_older_index) {
  auto release = add(testing::sign_release(alice, testing::sample_release(1), 1000));
  auto post = testing::sign_post(bob, release, testing::fake_digest(1, 9), 2000);
  add(post);
  auto reaction =
      testing::sign_reaction(bob, protocol::SubjectDraft{release, {}, {}}, protocol::ReactionKind::heart, 3000);
  add(reaction);
  const auto before = index->space();
  const auto kind = [](protocol::RecordKind k) { return static_cast<int>(k); };
  BOOST_TEST(before.record_bytes[kind(protocol::RecordKind::image_post)] == post.size());
  BOOST_TEST(before.record_bytes[kind(protocol::RecordKind::reaction)] == reaction.size());
  BOOST_TEST(before.by_kind[kind(protocol::RecordKind::image_post)] > 0u);
  BOOST_TEST(before.by_kind[kind(protocol::RecordKind::rating)] == 0u);
  index.reset();
  edit_raw([](MDB_txn* txn) {
    MDB_dbi meta;
    BOOST_REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    for (std::string key : {"bytes", "bytes/release", "bytes/image-post", "bytes/reaction"}) {
      MDB_val k{key.size(), key.data()};
      BOOST_REQUIRE(mdb_del(txn, meta, &k, nullptr) == 0);
    }
  });
  reopen();
  const auto after = index->space();
  for (int k = 0; k < protocol::kRecordKinds; ++k) BOOST_TEST(after.record_bytes[k] == before.record_bytes[k]);
}

namespace {

protocol::GenerationParams made_with(std::string prompt, std::string sampler, std::uint32_t steps) {
  protocol::GenerationParams g;
  g.prompt = std::move(prompt);
  g.sampler = std::move(sampler);
  g.steps = steps;
  return g;
}

// Every trend counter, as "series period value = count" lines.
std::vector<std::string> every_trend(const Index& index) {
  std::vector<std::string> out;
  for (char s : std::string("RBPQTWwCLSNrg"))
    for (const auto& c : index.trend(static_cast<TrendSeries>(s), 0, UINT32_MAX))
      out.push_back(std::string(1, s) + " " + std::to_string(c.period) + " " + to_hex(protocol::as_bytes(c.value)) +
                    " = " + std::to_string(c.count));
  return out;
}

std::map<std::string, std::uint64_t> trend_of(const Index& index, TrendSeries series, std::uint32_t period,
                                              std::string_view prefix = {}) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& c : index.trend(series, period, period, prefix)) out[c.value.substr(prefix.size())] = c.count;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(trends_count_releases_posts_prompts_and_reactions_in_any_order_and_after_an_upgrade) {
  using protocol::ReactionKind;
  using M = std::map<std::string, std::uint64_t>;
  // Two weeks, Monday 00:00 UTC ten weeks ago and the week after.
  const std::uint32_t w = trend_week(testing::now_ms()) - 10;
  const auto week_ms = [](std::uint32_t week) {
    return static_cast<std::uint64_t>(trend_week_first_day(week)) * kTrendDayMs;
  };
  const std::uint64_t t0 = week_ms(w), t1 = week_ms(w + 1);
  BOOST_TEST(trend_week(t0) == w);
  BOOST_TEST(trend_week(t1 - 1) == w);  // Sunday 23:59:59.999 is still week w
  BOOST_TEST(trend_week(t1) == w + 1);

  auto draft = [](std::uint64_t n, schema::ModelType type, std::string base, const char* prompt) {
    auto d = testing::sample_release(n, type, std::move(base));
    d.tags = {"Anime", "style", "anime"};  // one tag counts once per release, lowercased
    if (prompt) d.images[0].generation = made_with(prompt, "Euler a", 20);
    return d;
  };
  auto post_made_with = [](const SecretKey& key, const protocol::RecordId& release, std::uint64_t salt,
                           const protocol::GenerationParams& g, std::uint64_t t) {
    return testing::sign_post(key, release, testing::fake_digest(salt, 11), t, "test", 0, {}, &g);
  };
  const char* p1 = "masterpiece, (best quality:1.2), 1girl, <lora:detail:0.8>, BREAK";
  std::vector<protocol::Bytes> records;
  // Week w: three SDXL LoRAs; week w+1: two Pony checkpoints and a Pony LoRA its author retracts.
  records.push_back(testing::sign_release(alice, draft(1, schema::ModelType::LORA, "SDXL 1.0", p1), t0 + 1000));
  records.push_back(
      testing::sign_release(alice, draft(2, schema::ModelType::LORA, "SDXL 1.0", "heart <3, smile"), t0 + 2000));
  records.push_back(testing::sign_release(bob, draft(3, schema::ModelType::LORA, "SDXL 1.0", nullptr), t0 + 3000));
  records.push_back(
      testing::sign_release(bob, draft(4, schema::ModelType::CHECKPOINT, "Pony", "score_9, 1girl"), t1 + 1000));
  records.push_back(testing::sign_release(bob, draft(5, schema::ModelType::CHECKPOINT, "Pony", nullptr), t1 + 2000));
  records.push_back(testing::sign_release(alice, draft(6, schema::ModelType::LORA, "Pony", "score_9"), t1 + 3000));
  auto id = [&](std::size_t i) { return protocol::record_id_of(records[i]); };
  const auto r1 = id(0), r2 = id(1), r4 = id(3), r6 = id(5);
  records.push_back(sign_retraction(alice, r6, t1 + 4000));
  // Posts in week w+1: two about r1, one about r4, one about a release this index never gets.
  records.push_back(post_made_with(bob, r1, 1, made_with("masterpiece, 1girl, smile", "DPM++ 2M", 30), t1 + 5000));
  records.push_back(post_made_with(
      bob, r1, 2, made_with("A photo of a cat sitting on a red chair. Cinematic lighting", "DPM++ 2M", 200),
      t1 + 6000));
  records.push_back(post_made_with(alice, r4, 3, made_with("score_9, a smile", "Euler a", 25), t1 + 7000));
  records.push_back(post_made_with(alice, testing::fake_digest(99, 9), 4, made_with("", "", 0), t1 + 8000));
  // Reactions and ratings: only current ones count, on their day.
  const std::uint64_t d = t1 + kTrendDayMs;  // Tuesday of week w+1
  Subject about_r1{r1, std::nullopt, std::nullopt};
  records.push_back(testing::sign_reaction(bob, about_r1, ReactionKind::like, d));
  records.push_back(testing::sign_reaction(bob, about_r1, ReactionKind::heart, d + 1));  // replaces it
  records.push_back(testing::sign_reaction(alice, about_r1, ReactionKind::like, d));
  records.push_back(testing::sign_reaction(alice, about_r1, ReactionKind::none, d + 1));  // withdraws it
  records.push_back(
      testing::sign_reaction(alice, Subject{r2, testing::fake_digest(2, 5), std::nullopt}, ReactionKind::laugh, d));
  records.push_back(testing::sign_rating(bob, r1, 4, d));
  records.push_back(testing::sign_rating(bob, r1, 5, d + kTrendDayMs));  // replaces it, a day later
  records.push_back(testing::sign_rating(alice, r4, 3, d));

  for (const auto& r : records) add(r);
  const auto wanted = every_trend(*index);

  BOOST_TEST((trend_of(*index, TrendSeries::releases_by_type, w) == M{{"LORA", 3}}));
  BOOST_TEST((trend_of(*index, TrendSeries::releases_by_type, w + 1) == M{{"Checkpoint", 2}}));  // r6 retracted
  BOOST_TEST((trend_of(*index, TrendSeries::releases_by_base, w) == M{{"SDXL 1.0", 3}}));
  BOOST_TEST((trend_of(*index, TrendSeries::releases_by_base, w + 1) == M{{"Pony", 2}}));
  BOOST_TEST((trend_of(*index, TrendSeries::release_tags, w) == M{{"anime", 3}, {"style", 3}}));
  BOOST_TEST((trend_of(*index, TrendSeries::posts_by_type, w + 1) == M{{"", 1}, {"Checkpoint", 1}, {"LORA", 2}}));
  BOOST_TEST((trend_of(*index, TrendSeries::posts_by_base, w + 1) == M{{"", 1}, {"Pony", 1}, {"SDXL 1.0", 2}}));
  // Prompt terms by base model: weights, emphasis, extra networks and BREAK
  // are not terms; a sentence counts as its words.
  std::string sdxl("SDXL 1.0\0", 9), pony("Pony\0", 5);
  BOOST_TEST((trend_of(*index, TrendSeries::prompt_terms, w, sdxl) ==
              M{{"masterpiece", 1}, {"best quality", 1}, {"1girl", 1}, {"heart <3", 1}, {"smile", 1}}));
  BOOST_TEST((trend_of(*index, TrendSeries::prompt_terms, w + 1, sdxl) == M{{"masterpiece", 1},
                                                                            {"1girl", 1},
                                                                            {"smile", 1},
                                                                            {"photo", 1},
                                                                            {"cat", 1},
                                                                            {"sitting", 1},
                                                                            {"red", 1},
                                                                            {"chair", 1},
                                                                            {"cinematic lighting", 1}}));
  BOOST_TEST((trend_of(*index, TrendSeries::prompt_terms, w + 1, pony) ==
              M{{"score_9", 2}, {"1girl", 1}, {"smile", 1}}));  // r6's sample went with its retraction
  BOOST_TEST((trend_of(*index, TrendSeries::all_prompt_terms, w + 1) ==
              M{{"masterpiece", 1},
                {"1girl", 2},
                {"smile", 2},
                {"score_9", 2},
                {"photo", 1},
                {"cat", 1},
                {"sitting", 1},
                {"red", 1},
                {"chair", 1},
                {"cinematic lighting", 1}}));  // summed over base models
  BOOST_TEST((trend_of(*index, TrendSeries::prompts, w + 1) == M{{"Pony", 2}, {"SDXL 1.0", 2}}));
  BOOST_TEST((trend_of(*index, TrendSeries::prompt_words, w + 1) == M{{"Pony", 2 + 3}, {"SDXL 1.0", 3 + 12}}));
  // Words of p1 without its weights and <lora:…> (masterpiece best quality
  // 1girl break), and of "heart <3, smile", whose "<" closes nothing.
  BOOST_TEST((trend_of(*index, TrendSeries::prompt_words, w) == M{{"SDXL 1.0", 5 + 2}}));
  BOOST_TEST((trend_of(*index, TrendSeries::samplers, w + 1) == M{{"DPM++ 2M", 2}, {"Euler a", 2}}));
  BOOST_TEST((trend_of(*index, TrendSeries::steps, w + 1) == M{{"150+", 1}, {"20", 1}, {"25", 1}, {"30", 1}}));
  auto release_key = [](const protocol::RecordId& r) { return std::string(r.begin(), r.end()); };
  const std::uint32_t day = trend_day(d);
  BOOST_TEST((trend_of(*index, TrendSeries::reactions, day) == M{{release_key(r1), 1}, {release_key(r2), 1}}));
  BOOST_TEST((trend_of(*index, TrendSeries::ratings, day) == M{{release_key(r4), 1}}));
  BOOST_TEST((trend_of(*index, TrendSeries::ratings, day + 1) == M{{release_key(r1), 1}}));
  // A range of periods, and a prefix across them.
  BOOST_TEST(index->trend(TrendSeries::releases_by_type, w, w + 1).size() == 2u);
  BOOST_TEST(index->trend(TrendSeries::prompt_terms, w, w + 1, pony).size() == 3u);
  BOOST_TEST(index->trend(TrendSeries::prompt_terms, w, w + 1, sdxl, 4).size() == 4u);

  // The same records in the opposite order (posts before their releases,
  // the retraction before r6, the newer reactions first): the same counts.
  {
    auto other = open_at(dir.string() + "-reversed", 1ull << 30);
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      auto out = other->ingest(*it);
      BOOST_TEST((out.status == IngestStatus::added || out.status == IngestStatus::superseded));
    }
    BOOST_TEST(every_trend(*other) == wanted, boost::test_tools::per_element());
    other.reset();
    fs::remove_all(dir.string() + "-reversed");
  }
  // All of them in one batch, shuffled, each twice: the counts a
  // transaction sums before it commits are the same.
  {
    auto batch = records;
    batch.insert(batch.end(), records.begin(), records.end());
    std::shuffle(batch.begin(), batch.end(), std::mt19937(7));
    auto other = open_at(dir.string() + "-batch", 1ull << 30);
    other->ingest_batch(batch);
    BOOST_TEST(every_trend(*other) == wanted, boost::test_tools::per_element());
    other.reset();
    fs::remove_all(dir.string() + "-batch");
    // Written out every few counters within the transaction: the same.
    IndexOptions small;
    small.dir = dir.string() + "-flushed";
    small.network = "test";
    small.max_trend_changes = 3;
    auto flushed = Index::open(small);
    SB_REQUIRE_OK(flushed);
    (*flushed)->ingest_batch(batch);
    BOOST_TEST(every_trend(**flushed) == wanted, boost::test_tools::per_element());
    flushed->reset();
    fs::remove_all(dir.string() + "-flushed");
  }
  // Kept across a reopen, and built from the records for a format 5 index.
  reopen();
  BOOST_TEST(every_trend(*index) == wanted, boost::test_tools::per_element());
  index.reset();
  downgrade("5", {"trends"});
  reopen();
  BOOST_TEST(every_trend(*index) == wanted, boost::test_tools::per_element());
  // Counted by other rules (another seedbank's): counted afresh.
  index.reset();
  edit_raw([&](MDB_txn* txn) {
    MDB_dbi meta, trends;
    BOOST_REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    BOOST_REQUIRE(mdb_dbi_open(txn, "trends", 0, &trends) == 0);
    MDB_val k{6, const_cast<char*>("trends")}, v{1, const_cast<char*>("0")};
    BOOST_REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
    std::string stray = "Rzzzzother rules", count(8, '\x01');
    MDB_val sk{stray.size(), stray.data()}, sv{count.size(), count.data()};
    BOOST_REQUIRE(mdb_put(txn, trends, &sk, &sv, 0) == 0);
  });
  reopen();
  BOOST_TEST(every_trend(*index) == wanted, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
