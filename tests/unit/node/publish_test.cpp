// Publishing end to end on a real data dir: hashes, index, store, torrent.
#include <boost/test/unit_test.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/torrent_info.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "seedbank/node/context.h"
#include "seedbank/node/publish.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/release.h"
#include "support/require_ok.h"

namespace fs = std::filesystem;
using namespace seedbank;
using namespace seedbank::node;
namespace p = seedbank::protocol;

namespace {

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

// A LoRA-shaped safetensors file with kohya metadata and `data` bytes of weights.
std::string lora_bytes(std::size_t data, std::uint32_t seed) {
  std::string header =
      R"j({"__metadata__":{"ss_base_model_version":"sdxl_base_v1-0","ss_network_module":"networks.lora",)j"
      R"j("ss_resolution":"(1024, 1024)","ss_tag_frequency":"{\"10_x\": {\"add_detail\": 9, \"sharp\": 3}}"},)j"
      R"j("lora_unet_a.lora_down.weight":{"dtype":"U8","shape":[)j" +
      std::to_string(data) + R"(],"data_offsets":[0,)" + std::to_string(data) + "]}}";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::string out = le64(header.size()) + header;
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < data; ++i) out += static_cast<char>(rng());
  return out;
}

struct PublishFixture {
  fs::path root = fs::temp_directory_path() / ("seedbank-publish-" + std::to_string(std::random_device{}()));
  std::unique_ptr<NodeContext> node;
  p::SecretKey key = p::SecretKey::generate();
  fs::path png = fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png";

  PublishFixture() {
    fs::create_directories(root / "in");
    node = open(root / "data");
  }
  ~PublishFixture() {
    node.reset();
    fs::remove_all(root);
  }
  static std::unique_ptr<NodeContext> open(const fs::path& dir) {
    NodeOptions o;
    o.data_dir = dir;
    o.network = "test";
    auto n = NodeContext::open(o);
    BOOST_REQUIRE(n.ok());
    return std::move(n).value();
  }
  fs::path write(const std::string& name, const std::string& bytes) {
    std::ofstream(root / "in" / name, std::ios::binary) << bytes;
    return root / "in" / name;
  }
  PublishRequest request(const fs::path& model) {
    PublishRequest r;
    r.files = {model};
    r.images = {png};
    r.name = "Detail Tweaker";
    r.tags = {"detail"};
    r.commercial_use = {"Image,Rent"};
    return r;
  }
  p::Result<PublishResult> run(const PublishRequest& r, NodeContext* on = nullptr) {
    NodeContext& n = on ? *on : *node;
    PublishTarget target{*n.index, *n.store, "test"};
    return publish(target, key, r);
  }
  std::size_t stored_files() const {
    std::size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(root / "data" / "store" / "sha256")) n += e.is_regular_file();
    return n;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(publish_test, PublishFixture)

BOOST_AUTO_TEST_CASE(publish_indexes_every_hash_and_stores_the_files) {
  auto model = write("detail_tweaker.safetensors", lora_bytes(600000, 1));
  auto result = run(request(model));
  SB_REQUIRE_OK(result);
  const auto& rec = *result->record;
  auto r = rec.body().getPayload().getRelease();
  // Defaults from the safetensors metadata; flags as given.
  BOOST_TEST(std::string(r.getModelName().cStr()) == "Detail Tweaker");
  BOOST_TEST((r.getType() == schema::ModelType::LORA));
  BOOST_TEST(std::string(r.getBaseModel().cStr()) == "SDXL 1.0");
  BOOST_REQUIRE(r.getTriggerWords().size() >= 1);
  BOOST_TEST(std::string(r.getTriggerWords()[0].cStr()) == "add_detail");
  BOOST_TEST(r.getLicense().getAllowCommercialUse().size() == 2u);
  // The image's generation parameters are in the record.
  BOOST_REQUIRE_EQUAL(r.getImages().size(), 1u);
  auto gen = r.getImages()[0].getGeneration();
  BOOST_TEST(gen.getSteps() == 20u);
  BOOST_TEST(std::string(gen.getSampler().cStr()) == "Euler a");
  BOOST_TEST(r.getImages()[0].getWidth() == 512u);

  // Every alias finds the release.
  const auto& d = result->files[0].digests;
  for (std::string q : {d.sha256_hex(), d.autov2_hex(), d.autov1_hex(), d.autov3_hex(), d.crc32_hex(),
                        p::to_hex(p::ByteView(r.getTorrent().getInfoHashV2().begin(), 32)),
                        p::to_hex(p::ByteView(r.getTorrent().getInfoHashV1().begin(), 20)), p::to_hex(rec.id())}) {
    auto m = node->index->find_by_hash(q);
    SB_REQUIRE_OK(m);
    bool found = false;
    for (const auto& x : *m) found = found || x.release == rec.id();
    BOOST_TEST(found, "not found by " << q);
  }
  // The store holds both files under their SHA-256, byte for byte.
  BOOST_TEST(node->store->contains(d.sha256));
  BOOST_TEST(node->store->contains(result->files[1].digests.sha256));
  BOOST_TEST(fs::file_size(node->store->path_of(d.sha256)) == fs::file_size(model));
  // The signature verifies; any flipped byte does not.
  auto bytes = p::Bytes(rec.bytes().begin(), rec.bytes().end());
  SB_CHECK_OK(p::verify_record(bytes, "test"));
  bytes[bytes.size() / 3] ^= 0x10;
  BOOST_TEST(!p::verify_record(bytes, "test").ok());
}

BOOST_AUTO_TEST_CASE(torrent_matches_what_libtorrent_makes_from_the_stored_files) {
  auto model = write("detail_tweaker.safetensors", lora_bytes(1500000, 2));
  for (bool v2_only : {false, true}) {
    auto req = request(model);
    req.v2_only = v2_only;
    req.version = v2_only ? "v2" : "v1";  // a distinct torrent each time
    auto result = run(req);
    SB_REQUIRE_OK(result);
    auto t = result->record->body().getPayload().getRelease().getTorrent();
    BOOST_TEST(t.getInfoHashV1().size() == (v2_only ? 0u : 20u));

    // Lay the stored files out as the torrent names them and let libtorrent
    // hash them from scratch.
    fs::path layout = root / ("layout" + std::to_string(v2_only));
    fs::create_directories(layout / result->torrent_name / "images");
    for (const auto& f : result->files)
      fs::create_hard_link(node->store->path_of(f.digests.sha256),
                           layout / result->torrent_name / (f.image ? "images/" + f.name : f.name));
    lt::file_storage files;
    lt::add_files(files, (layout / result->torrent_name).string(), lt::create_torrent::no_attributes);
    lt::create_torrent ct(files, static_cast<int>(result->piece_size),
                          v2_only ? lt::create_torrent::v2_only : lt::create_flags_t{});
    lt::set_piece_hashes(ct, layout.string());
    std::vector<char> info;
    lt::entry e = ct.generate();
    lt::bencode(std::back_inserter(info), e["info"]);
    BOOST_TEST(info.size() == t.getInfo().size());
    BOOST_TEST(std::equal(info.begin(), info.end(), reinterpret_cast<const char*>(t.getInfo().begin())));

    // The record alone is enough to add the torrent: info dictionary plus
    // piece layers, wrapped as a .torrent, load with no metadata exchange.
    auto bytes = torrent_file_of(result->record->body().getPayload().getRelease());
    std::string whole(bytes.begin(), bytes.end());
    lt::error_code ec;
    lt::torrent_info ti(lt::span<char const>(whole.data(), static_cast<long>(whole.size())), ec, lt::from_span);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(ti.info_hashes().has_v2());
    BOOST_TEST(ti.num_files() >= 2);
  }
}

BOOST_AUTO_TEST_CASE(single_file_torrent_matches_libtorrent) {
  // One model, no images: libtorrent does not pad a lone file, so its last
  // v1 piece must hash the file's tail alone.
  auto model = write("solo.safetensors", lora_bytes(700001, 11));
  auto req = request(model);
  req.images.clear();
  auto result = run(req);
  SB_REQUIRE_OK(result);
  auto t = result->record->body().getPayload().getRelease().getTorrent();
  fs::path layout = root / "solo-layout";
  fs::create_directories(layout / result->torrent_name);
  fs::create_hard_link(node->store->path_of(result->files[0].digests.sha256),
                       layout / result->torrent_name / "solo.safetensors");
  lt::file_storage files;
  lt::add_files(files, (layout / result->torrent_name).string(), lt::create_torrent::no_attributes);
  lt::create_torrent ct(files, static_cast<int>(result->piece_size));
  lt::set_piece_hashes(ct, layout.string());
  std::vector<char> info;
  lt::entry e = ct.generate();
  lt::bencode(std::back_inserter(info), e["info"]);
  BOOST_TEST(std::string(info.begin(), info.end()) ==
             std::string(reinterpret_cast<const char*>(t.getInfo().begin()), t.getInfo().size()));
}

BOOST_AUTO_TEST_CASE(republishing_is_idempotent_and_reproducible) {
  auto model = write("m.safetensors", lora_bytes(100000, 3));
  auto first = run(request(model));
  SB_REQUIRE_OK(first);
  auto records = node->index->stats().records;
  auto again = run(request(model));
  SB_REQUIRE_OK(again);
  BOOST_TEST(again->already_published);
  BOOST_TEST(p::to_hex(again->record->id()) == p::to_hex(first->record->id()));
  BOOST_TEST(node->index->stats().records == records);

  // Another node, another time: the same files give the same torrent.
  auto other = open(root / "data2");
  auto elsewhere = run(request(model), other.get());
  SB_REQUIRE_OK(elsewhere);
  auto a = first->record->body().getPayload().getRelease().getTorrent();
  auto b = elsewhere->record->body().getPayload().getRelease().getTorrent();
  BOOST_TEST(p::to_hex(p::ByteView(a.getInfoHashV2().begin(), 32)) ==
             p::to_hex(p::ByteView(b.getInfoHashV2().begin(), 32)));
}

BOOST_AUTO_TEST_CASE(a_new_version_supersedes_the_previous_one) {
  auto v1 = run(request(write("m1.safetensors", lora_bytes(100000, 4))));
  SB_REQUIRE_OK(v1);
  auto req = request(write("m2.safetensors", lora_bytes(100000, 5)));
  req.version = "v2.0";
  auto v2 = run(req);
  SB_REQUIRE_OK(v2);
  auto sup = v2->record->body().getPayload().getRelease().getSupersedes();
  BOOST_REQUIRE_EQUAL(sup.size(), 32u);
  BOOST_TEST(p::to_hex(p::ByteView(sup.begin(), 32)) == p::to_hex(v1->record->id()));
}

BOOST_AUTO_TEST_CASE(civitai_json_fills_what_the_flags_leave_out) {
  auto info = write("m.civitai.info", R"({
    "id": 1, "modelId": 2, "name": "v3 Final", "baseModel": "Pony",
    "trainedWords": ["zyx style"], "description": "<p>Imported</p>",
    "model": {"name": "Zyx Style", "type": "LORA", "nsfw": false, "tags": ["style", "anime"]},
    "images": [{"url": "https://example.invalid/1.png", "width": 512, "height": 768,
                "meta": {"prompt": "zyx style, a cat", "steps": 28, "sampler": "DPM++ 2M", "cfgScale": 6.5,
                         "seed": 42, "Size": "512x768", "Clip skip": 2}}]
  })");
  // A 1x1 PNG with no text: takes the Civitai image's parameters.
  std::string plain_png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\0\0\x0dIHDR", 8) +
                          std::string("\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0", 13) + std::string("\x1f\x15\xc4\x89", 4) +
                          std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  PublishRequest req;
  req.files = {write("zyx.safetensors", lora_bytes(50000, 6))};
  req.images = {write("cat.png", plain_png)};
  req.civitai_json = info;
  auto result = run(req);
  SB_REQUIRE_OK(result);
  auto r = result->record->body().getPayload().getRelease();
  BOOST_TEST(std::string(r.getModelName().cStr()) == "Zyx Style");
  BOOST_TEST(std::string(r.getVersionName().cStr()) == "v3 Final");
  BOOST_TEST(std::string(r.getBaseModel().cStr()) == "Pony");
  BOOST_TEST(std::string(r.getTriggerWords()[0].cStr()) == "zyx style");
  BOOST_TEST(r.getTags().size() == 2u);
  auto g = p::read_generation(r.getImages()[0].getGeneration());
  BOOST_TEST(g.prompt == "zyx style, a cat");
  BOOST_TEST(g.steps.value_or(0) == 28u);
  BOOST_TEST(g.cfg_scale.value_or(0) == 6.5);
}

BOOST_AUTO_TEST_CASE(bad_inputs_write_nothing) {
  auto good = write("good.safetensors", lora_bytes(40000, 7));
  auto records = node->index->stats().records;
  auto stored = stored_files();
  auto expect_error = [&](PublishRequest req, const std::string& words) {
    auto r = run(req);
    BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted input that should fail with: " << words);
    BOOST_TEST(r.error().message.find(words) != std::string::npos, r.error().message);
    BOOST_TEST(node->index->stats().records == records);
    BOOST_TEST(stored_files() == stored);
  };
  auto req = request(root / "in" / "missing.safetensors");
  expect_error(req, "no such file");

  auto pickle = write("old.ckpt", std::string("\x80\x04\x95\x05\0\0\0\0\0\0\0}\x94.", 14));
  req = request(pickle);
  expect_error(req, "--allow-unsafe");

  std::string bad = le64(40) + R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,9]}})";
  req = request(write("bad.safetensors", bad));
  expect_error(req, "bad.safetensors");

  req = request(good);
  req.images = {good};  // a model given as an image
  expect_error(req, "not a PNG, JPEG or WebP");

  req = request(good);
  req.type = "Spaceship";
  expect_error(req, "not a model type");

  req = request(good);
  req.commercial_use = {"Image,Lease"};
  expect_error(req, "Lease");

  req = request(good);
  req.files = {good, good};
  expect_error(req, "unique");

  req = request(write("CON.safetensors", lora_bytes(1000, 8)));
  expect_error(req, "reserved");

  auto empty = write("empty.safetensors", "");
  req = request(empty);
  expect_error(req, "empty");

  req = request(good);
  req.supersedes = "xyz";
  expect_error(req, "not a release id");

  // And a pickle is accepted when the creator insists, marked as such.
  req = request(pickle);
  req.allow_unsafe = true;
  req.type = "Checkpoint";
  auto ok = run(req);
  SB_REQUIRE_OK(ok);
  BOOST_TEST(
      (ok->record->body().getPayload().getRelease().getFiles()[0].getFormat() == schema::FileFormat::PICKLE_TENSOR));
}

BOOST_AUTO_TEST_CASE(link_mode_stores_without_copying) {
  auto model = write("linked.safetensors", lora_bytes(20000, 9));
  auto req = request(model);
  req.link = true;
  auto result = run(req);
  SB_REQUIRE_OK(result);
  BOOST_TEST(fs::equivalent(model, node->store->path_of(result->files[0].digests.sha256)));
}

BOOST_AUTO_TEST_CASE(a_mirror_shares_its_model_in_place_and_a_copy_is_named) {
  auto model = write("mirror.safetensors", lora_bytes(5000, 41));
  auto req = request(model);
  req.in_place = true;
  p::ReleaseOrigin origin;
  origin.site = "civitai";
  origin.model_id = 1;
  origin.version_id = 2;
  req.origin = origin;
  auto first = p::hash_file(model);
  SB_REQUIRE_OK(first);
  req.origin->sha256 = {first->sha256};
  auto result = run(req);
  SB_REQUIRE_OK(result);
  BOOST_TEST(p::is_mirror(result->record->body().getPayload().getRelease()));
  // The image is stored; the model is read where it is.
  BOOST_TEST(stored_files() == 1u);
  auto where = node->store->locate(first->sha256);
  BOOST_REQUIRE(where.has_value());
  BOOST_TEST(where->in_place);
  BOOST_TEST(fs::equivalent(where->path, model));

  // Someone else publishing the same bytes is told who has them already.
  p::SecretKey second = p::SecretKey::generate();
  PublishTarget target{*node->index, *node->store, "test"};
  auto again = publish(target, second, request(model));
  SB_REQUIRE_OK(again);
  BOOST_REQUIRE_EQUAL(again->already_named_by.size(), 1u);
  BOOST_TEST((again->already_named_by[0] == result->record->id()));
  std::string warnings;
  for (const auto& w : again->warnings) warnings += w;
  BOOST_TEST(warnings.find("already on the network: a mirror") != std::string::npos, warnings);
}

BOOST_AUTO_TEST_SUITE_END()
