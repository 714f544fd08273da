#include <boost/test/unit_test.hpp>

#include <capnp/message.h>
#include "support/require_ok.h"

#include "seedbank/protocol/record.h"
#include "seedbank/protocol/release.h"
#include "support/future_records.h"
#include "support/test_records.h"

using namespace seedbank;
using namespace seedbank::protocol;

namespace {

const SecretKey& creator() {
  static SecretKey key = SecretKey::generate();
  return key;
}

Bytes release_bytes(std::uint64_t n = 1) {
  return testing::sign_release(creator(), testing::sample_release(n), testing::now_ms());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(record_test)

BOOST_AUTO_TEST_CASE(signed_release_verifies_and_reads_back) {
  auto bytes = release_bytes();
  auto rec = verify_record(bytes, "test");
  SB_REQUIRE_OK(rec);
  BOOST_TEST((rec->kind() == RecordKind::release));
  BOOST_TEST((rec->author() == creator().public_key()));
  BOOST_TEST(to_hex(rec->id()) == to_hex(record_id_of(bytes)));
  auto r = rec->body().getPayload().getRelease();
  BOOST_TEST(std::string(r.getModelName().cStr()) == "Detail Tweaker 1");
  BOOST_TEST(std::string(r.getModelSlug().cStr()) == "detail-tweaker-1");
  BOOST_TEST(r.getFiles().size() == 1u);
  BOOST_TEST(r.getLicense().getAllowCommercialUse().size() == 2u);
}

BOOST_AUTO_TEST_CASE(flipping_any_bit_is_rejected) {
  // Every bit matters: a flip either breaks the signature or makes the bytes
  // non-canonical. Cap'n Proto ignores some pointer bits (the top bit of an
  // inline-composite list's element count), so a check that only asked
  // Cap'n Proto whether the message is canonical let one such flip through
  // with a different record id; the fuzzer found it.
  auto bytes = release_bytes();
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto tampered = bytes;
      tampered[i] ^= static_cast<std::uint8_t>(1u << bit);
      if (verify_record(tampered, "test").ok()) {
        ++accepted;
        BOOST_ERROR("bit " << bit << " of byte " << i << " flipped and the record still verified");
      }
    }
  }
  BOOST_TEST(accepted == 0u);
}

BOOST_AUTO_TEST_CASE(truncated_or_padded_records_are_rejected) {
  auto bytes = release_bytes();
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, std::size_t{8}, bytes.size() / 2, bytes.size() - 8}) {
    Bytes prefix(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    BOOST_TEST(!verify_record(prefix, "test").ok(), "cut at " << cut);
  }
  auto padded = bytes;
  padded.insert(padded.end(), 8, 0);
  auto r = verify_record(padded, "test");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.find("canonical") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(non_canonical_encoding_is_rejected_even_with_valid_signature) {
  // Re-encode the same record with a segment table and extra segments: the
  // content and signature are unchanged, but the bytes are not canonical.
  auto bytes = release_bytes();
  auto rec = verify_record(bytes, "test");
  BOOST_REQUIRE(rec.ok());
  capnp::MallocMessageBuilder builder(1);  // tiny first segment forces several
  builder.setRoot(rec->reader());
  auto segments = builder.getSegmentsForOutput();
  BOOST_REQUIRE(segments.size() > 1);
  // Concatenate segments without a table: still not canonical.
  Bytes joined;
  for (auto seg : segments) {
    auto b = seg.asBytes();
    joined.insert(joined.end(), b.begin(), b.end());
  }
  BOOST_TEST(!verify_record(joined, "test").ok());
}

BOOST_AUTO_TEST_CASE(wrong_network_and_future_timestamps_are_rejected) {
  auto bytes = release_bytes();
  auto other = verify_record(bytes, "main");
  BOOST_REQUIRE(!other.ok());
  BOOST_TEST(other.error().message.find("network") != std::string::npos);

  auto future = testing::sign_release(creator(), testing::sample_release(2), testing::now_ms() + 3600 * 1000);
  RecordLimits limits;
  limits.now_ms = testing::now_ms();
  auto f = verify_record(future, "test", limits);
  BOOST_REQUIRE(!f.ok());
  BOOST_TEST(f.error().message.find("future") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(oversize_records_are_rejected_before_parsing) {
  auto bytes = release_bytes();
  RecordLimits limits;
  limits.max_record_bytes = bytes.size() - 8;
  auto r = verify_record(bytes, "test", limits);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().code == ErrorCode::limit));
}

BOOST_AUTO_TEST_CASE(field_limits_are_enforced_when_signing) {
  auto draft = testing::sample_release(3);
  draft.files[0].name = "../../etc/passwd";
  auto r =
      sign_record(creator(), "test", testing::now_ms(), [&](schema::RecordBody::Builder b) { fill_release(draft, b); });
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.find("release.files[0].name") != std::string::npos);

  draft = testing::sample_release(3);
  draft.tags.assign(65, "x");
  BOOST_TEST(!sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(draft, b); }).ok());

  draft = testing::sample_release(3);
  draft.model_name = std::string("bad\xff utf8");
  auto u = sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(draft, b); });
  BOOST_REQUIRE(!u.ok());
  BOOST_TEST(u.error().message.find("UTF-8") != std::string::npos);

  draft = testing::sample_release(3);
  draft.files.clear();
  BOOST_TEST(!sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(draft, b); }).ok());

  auto rating = sign_record(creator(), "test", testing::now_ms(), [](schema::RecordBody::Builder b) {
    auto r = b.initPayload().initRating();
    r.setRelease(capnp::Data::Reader(RecordId{}.data(), 32));
    r.setStars(6);
  });
  BOOST_REQUIRE(!rating.ok());
  BOOST_TEST(rating.error().message.find("rating.stars") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_mirror_carries_its_origin_and_only_the_hashes_of_its_own_files) {
  auto draft = testing::sample_release(4);
  ReleaseOrigin origin;
  origin.site = "civitai";
  origin.model_id = 1001;
  origin.version_id = 2002;
  origin.creator = "painter";
  origin.url = "https://civitai.com/models/1001?modelVersionId=2002";
  origin.sha256 = {draft.files[0].sha256};
  draft.origin = origin;
  auto signed_mirror = sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(draft, b); });
  SB_REQUIRE_OK(signed_mirror);
  auto rec = verify_record(*signed_mirror, "test");
  SB_REQUIRE_OK(rec);
  auto r = rec->body().getPayload().getRelease();
  BOOST_TEST(is_mirror(r));
  auto back = read_origin(r);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->site == "civitai");
  BOOST_TEST(back->version_id == 2002u);
  BOOST_TEST(back->creator == "painter");
  BOOST_TEST((back->sha256 == origin.sha256));
  BOOST_TEST(!is_mirror(verify_record(release_bytes(5), "test")->body().getPayload().getRelease()));

  // Hashes of other bytes, a URL that is no web page, no site: refused.
  auto other = draft;
  other.origin->sha256[0][0] ^= 1;
  auto r1 = sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(other, b); });
  BOOST_REQUIRE(!r1.ok());
  BOOST_TEST(r1.error().message.find("release.origin.sha256[0]") != std::string::npos, r1.error().message);
  other = draft;
  other.origin->url = "javascript:alert(1)";
  BOOST_TEST(!sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(other, b); }).ok());
  other = draft;
  other.origin->site.clear();
  BOOST_TEST(!sign_record(creator(), "test", testing::now_ms(), [&](auto b) { fill_release(other, b); }).ok());
}

BOOST_AUTO_TEST_CASE(key_rotation_needs_the_new_keys_signature) {
  auto new_key = SecretKey::generate();
  auto now = testing::now_ms();
  auto good = sign_record(creator(), "test", now, [&](schema::RecordBody::Builder b) {
    auto r = b.initPayload().initKeyRotation();
    r.setNewKey(capnp::Data::Reader(new_key.public_key().bytes.data(), 32));
    auto sig = new_key.sign(rotation_message(creator().public_key(), new_key.public_key(), now));
    r.setNewKeySignature(capnp::Data::Reader(sig.data(), 64));
  });
  BOOST_REQUIRE(good.ok());
  BOOST_TEST(verify_record(*good, "test").ok());

  auto forged = sign_record(creator(), "test", now, [&](schema::RecordBody::Builder b) {
    auto r = b.initPayload().initKeyRotation();
    r.setNewKey(capnp::Data::Reader(new_key.public_key().bytes.data(), 32));
    auto sig = new_key.sign(rotation_message(creator().public_key(), new_key.public_key(), now + 1));
    r.setNewKeySignature(capnp::Data::Reader(sig.data(), 64));
  });
  BOOST_REQUIRE(!forged.ok());
  BOOST_TEST(forged.error().message.find("new key did not sign") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(same_content_gives_same_id) {
  auto draft = testing::sample_release(9);
  auto a = testing::sign_release(creator(), draft, 1700000000000);
  auto b = testing::sign_release(creator(), draft, 1700000000000);
  BOOST_TEST(a == b);  // Ed25519 is deterministic and the encoding canonical
  auto c = testing::sign_release(creator(), draft, 1700000000001);
  BOOST_TEST(to_hex(record_id_of(a)) != to_hex(record_id_of(c)));
}

BOOST_AUTO_TEST_CASE(file_names_that_escape_or_break_filesystems_are_refused) {
  for (std::string bad :
       std::vector<std::string>{"", ".", "..", "a/b", "a\\b", std::string("a\0b", 3), "CON", "nul.txt",
                                "COM1.safetensors", "trailing.", "trailing ", std::string(256, 'x'), "\x01name"})
    BOOST_TEST(!validate_file_name(bad).ok(), "accepted '" << bad << "'");
  for (std::string good :
       std::vector<std::string>{"model.safetensors", "detail tweaker v1.0.safetensors", "コンテ.png", "console.txt"})
    BOOST_TEST(validate_file_name(good).ok(), "refused '" << good << "'");
}

BOOST_AUTO_TEST_CASE(reactions_and_comments_name_a_release_and_at_most_one_image_or_post) {
  auto key = SecretKey::generate();
  auto attempt = [&](const std::function<void(schema::RecordBody::Builder)>& fill) {
    return sign_record(key, "test", testing::now_ms(), fill);
  };
  std::uint8_t bytes[33] = {};
  auto data = [&](std::size_t n) { return capnp::Data::Reader(bytes, n); };
  auto short_release = attempt(
      [&](schema::RecordBody::Builder b) { b.initPayload().initReaction().initSubject().setRelease(data(31)); });
  BOOST_REQUIRE(!short_release);
  BOOST_TEST(short_release.error().message.find("reaction.subject.release") != std::string::npos);
  auto both = attempt([&](schema::RecordBody::Builder b) {
    auto s = b.initPayload().initReaction().initSubject();
    s.setRelease(data(32));
    s.setImage(data(32));
    s.setPost(data(32));
  });
  BOOST_REQUIRE(!both);
  BOOST_TEST(both.error().message.find("name one") != std::string::npos);
  auto empty =
      attempt([&](schema::RecordBody::Builder b) { b.initPayload().initComment().initSubject().setRelease(data(32)); });
  BOOST_REQUIRE(!empty);
  BOOST_TEST(empty.error().message.find("comment.text") != std::string::npos);
  auto deletion_of_nothing = attempt([&](schema::RecordBody::Builder b) {
    auto c = b.initPayload().initComment();
    c.initSubject().setRelease(data(32));
    c.setDeleted(true);
  });
  BOOST_REQUIRE(!deletion_of_nothing);
  BOOST_TEST(deletion_of_nothing.error().message.find("comment.deleted") != std::string::npos);
  auto good = attempt([&](schema::RecordBody::Builder b) {
    auto c = b.initPayload().initComment();
    c.initSubject().setRelease(data(32));
    c.setText("fine");
  });
  SB_REQUIRE_OK(good);
  BOOST_TEST((verify_record(*good, "test")->kind() == RecordKind::comment));
}

BOOST_AUTO_TEST_CASE(a_signed_reaction_breaking_its_rules_is_refused_not_malformed) {
  // Signed as a node that knew no rules for it would pass it on: its
  // sender may be an honest older relay, so it costs no ban.
  auto key = SecretKey::generate();
  std::uint8_t short_id[31] = {};
  auto bytes = testing::sign_future_record(key, "test", testing::now_ms(), [&](future::RecordBody::Builder b) {
    b.initPayload().initReaction().initSubject().setRelease(capnp::Data::Reader(short_id, sizeof short_id));
  });
  auto rec = verify_record(bytes, "test");
  BOOST_REQUIRE(!rec);
  BOOST_TEST((rec.error().code == ErrorCode::refused), rec.error().message);
  BOOST_TEST(rec.error().message.find("reaction.subject.release") != std::string::npos, rec.error().message);
}

// ---- forward compatibility (docs/protocol.md) ----

BOOST_AUTO_TEST_CASE(a_record_of_a_kind_from_the_future_verifies_as_unknown) {
  auto release = record_id_of(release_bytes());
  auto bytes = testing::sign_mirror(creator(), release, testing::now_ms());
  auto rec = verify_record(bytes, "test");
  SB_REQUIRE_OK(rec);
  BOOST_TEST((rec->kind() == RecordKind::unknown));
  BOOST_TEST(rec->payload_tag() == testing::kMirrorTag);
  BOOST_TEST(to_string(rec->kind()) == "unknown");
  BOOST_TEST((rec->author() == creator().public_key()));
  BOOST_TEST(to_hex(rec->id()) == to_hex(record_id_of(bytes)));
  BOOST_TEST(std::equal(bytes.begin(), bytes.end(), rec->bytes().begin(), rec->bytes().end()));
  BOOST_TEST(validate_body(rec->body()).ok());
  // What a node stored reads back the same way.
  auto stored = load_stored_record(bytes);
  SB_REQUIRE_OK(stored);
  BOOST_TEST((stored->kind() == RecordKind::unknown));
  BOOST_TEST(stored->payload_tag() == testing::kMirrorTag);
  BOOST_TEST((record_kind_of(0) == RecordKind::release));
  BOOST_TEST((record_kind_of(6) == RecordKind::deny_list));
  BOOST_TEST((record_kind_of(7) == RecordKind::reaction));
  BOOST_TEST((record_kind_of(8) == RecordKind::comment));
  BOOST_TEST((record_kind_of(testing::kMirrorTag) == RecordKind::unknown));
  BOOST_TEST((record_kind_of(0xffff) == RecordKind::unknown));
}

BOOST_AUTO_TEST_CASE(a_record_of_an_unknown_kind_still_needs_a_valid_envelope) {
  auto release = record_id_of(release_bytes());
  auto now = testing::now_ms();
  auto bytes = testing::sign_mirror(creator(), release, now);
  // Every bit is covered by the signature or by canonical form.
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto tampered = bytes;
      tampered[i] ^= static_cast<std::uint8_t>(1u << bit);
      if (verify_record(tampered, "test").ok()) BOOST_ERROR("bit " << bit << " of byte " << i << " flipped");
    }
  auto other_network = testing::sign_mirror(creator(), release, now, "elsewhere");
  BOOST_TEST((verify_record(other_network, "test").error().code == ErrorCode::conflict));
  auto from_the_far_future = testing::sign_mirror(creator(), release, now + 3600 * 1000);
  RecordLimits limits;
  limits.now_ms = now;
  BOOST_TEST(!verify_record(from_the_far_future, "test", limits).ok());
  limits.max_record_bytes = bytes.size() - 8;
  limits.now_ms = 0;
  BOOST_TEST((verify_record(bytes, "test", limits).error().code == ErrorCode::limit));
  auto no_author = testing::sign_future_record(creator(), "test", now, [](future::RecordBody::Builder body) {
    body.setAuthor(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>("abc"), 3));
    body.getPayload().initMirror().setOrigin("x");
  });
  BOOST_TEST((verify_record(no_author, "test").error().code == ErrorCode::malformed));
  auto no_time = testing::sign_future_record(creator(), "test", now, [](future::RecordBody::Builder body) {
    body.setCreatedAt(0);
    body.getPayload().initMirror().setOrigin("x");
  });
  BOOST_TEST((verify_record(no_time, "test").error().code == ErrorCode::malformed));
  // Signed by another key than the author's.
  auto forged = testing::sign_future_record(SecretKey::generate(), "test", now, [](future::RecordBody::Builder body) {
    body.setAuthor(capnp::Data::Reader(creator().public_key().bytes.data(), 32));
    body.getPayload().initMirror().setOrigin("x");
  });
  BOOST_TEST((verify_record(forged, "test").error().code == ErrorCode::bad_signature));
}

BOOST_AUTO_TEST_CASE(enum_values_from_a_newer_schema_are_accepted) {
  auto bytes = sign_record(creator(), "test", testing::now_ms(), [](schema::RecordBody::Builder body) {
    fill_release(testing::sample_release(7), body);
    auto r = body.getPayload().getRelease();
    r.setType(static_cast<schema::ModelType>(40));
    auto f = r.getFiles()[0];
    f.setRole(static_cast<schema::FileRole>(41));
    f.setFormat(static_cast<schema::FileFormat>(42));
    f.setPrecision(static_cast<schema::Precision>(43));
    auto uses = r.getLicense().initAllowCommercialUse(2);
    uses.set(0, schema::CommercialUse::IMAGE);
    uses.set(1, static_cast<schema::CommercialUse>(44));
  });
  SB_REQUIRE_OK(bytes);
  auto rec = verify_record(*bytes, "test");
  SB_REQUIRE_OK(rec);
  BOOST_TEST((rec->kind() == RecordKind::release));
  auto r = rec->body().getPayload().getRelease();
  BOOST_TEST(static_cast<unsigned>(r.getType()) == 40u);
  BOOST_TEST(static_cast<unsigned>(r.getFiles()[0].getPrecision()) == 43u);
  BOOST_TEST(static_cast<unsigned>(r.getLicense().getAllowCommercialUse()[1]) == 44u);
  // Views name a type they do not know as Civitai's "Other".
  BOOST_TEST(model_type_name(r.getType()) == "Other");
}

BOOST_AUTO_TEST_CASE(fields_from_a_newer_schema_survive_canonical_form_and_verification) {
  auto bytes = testing::sign_release_with_future_fields(creator(), testing::sample_release(8), testing::now_ms(), 16,
                                                        "sdxl-styles");
  auto rec = verify_record(bytes, "test");
  SB_REQUIRE_OK(rec);
  BOOST_TEST((rec->kind() == RecordKind::release));
  BOOST_TEST(std::string(rec->body().getPayload().getRelease().getModelName().cStr()) == "Detail Tweaker 8");
  // Re-encoding through today's schema keeps the fields it does not know:
  // same bytes, same id, and the signature still verifies.
  capnp::MallocMessageBuilder copy;
  copy.setRoot(rec->reader());
  auto again = capnp::canonicalize(copy.getRoot<schema::SignedRecord>().asReader());
  BOOST_TEST(std::equal(bytes.begin(), bytes.end(), again.asBytes().begin(), again.asBytes().end()));
  auto reverified = verify_record(ByteView(again.asBytes().begin(), again.asBytes().size()), "test");
  SB_REQUIRE_OK(reverified);
  BOOST_TEST(to_hex(reverified->id()) == to_hex(rec->id()));
  // ... and a newer node reads them back.
  kj::ArrayPtr<const capnp::word> segment = again.asPtr();
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&segment, 1));
  auto body = reader.getRoot<future::SignedRecord>().getBody();
  BOOST_TEST(std::string(body.getTopic().cStr()) == "sdxl-styles");
  BOOST_TEST(body.getPayload().getRelease().getNsfwLevel() == 16u);
}

BOOST_AUTO_TEST_SUITE_END()
